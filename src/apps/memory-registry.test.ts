import { describe, expect, it } from 'vitest';
import { createMemoryAppRegistry, generateIngestToken, generateReadToken } from './memory-registry.js';
import { describeAppRegistryContract } from './registry.contract.js';

// What an AppRegistry does (tokens, apps, upsert, rotate) is in the contract, run here on memory.
describe('createMemoryAppRegistry', () => {
  describe('tokens', () => {
    it('generates ingest tokens as t.<uuid> and read tokens as r.<uuid>', () => {
      const uuid = '[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}';
      expect(generateIngestToken()).toMatch(new RegExp(`^t\\.${uuid}$`));
      expect(generateReadToken()).toMatch(new RegExp(`^r\\.${uuid}$`));
      expect(generateIngestToken()).not.toBe(generateIngestToken());
    });
  });
});

describeAppRegistryContract('memory', async (options) => ({ registry: createMemoryAppRegistry(options) }));
