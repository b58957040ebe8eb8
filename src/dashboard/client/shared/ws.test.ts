import { describe, expect, it } from 'vitest';
import { upgradeProtocols } from './ws.js';

describe('upgradeProtocols', () => {
  it('offers sluice.v1 and the token as sluice.token.<token>', () => {
    expect(upgradeProtocols('r.0f8fad5b-d9cb-469f-a165-70867728950e')).toEqual(['sluice.v1', 'sluice.token.r.0f8fad5b-d9cb-469f-a165-70867728950e']);
    expect(upgradeProtocols('Admin_token~0123456789')).toEqual(['sluice.v1', 'sluice.token.Admin_token~0123456789']);
  });

  it('leaves out a token that cannot be a subprotocol (new WebSocket would throw), and an empty one', () => {
    for (const token of ['admin token with spaces', 'abc/def=ghi0123456789', 'tok,en-0123456789abc', 'tøken-0123456789abc', '']) {
      expect(upgradeProtocols(token)).toEqual(['sluice.v1']);
    }
  });
});
