import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../test/support/redis-server.js';
import { redisServerAvailable, startRedisServer, type OwnedRedis } from '../../test/support/redis.js';
import { loadConfig } from '../config.js';
import { createRedisClient, waitReady } from './redis-client.js';

/**
 * Heroku Redis speaks TLS with a self-signed certificate: `rediss://` must work with
 * REDIS_TLS_REJECT_UNAUTHORIZED=false, and be refused by default (verification on).
 */
describe.skipIf(!redisServerAvailable)('rediss:// (TLS) connections', () => {
  let own: OwnedRedis;
  let tlsPort: number;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-tls-'));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], {
      stdio: 'ignore',
    });
    tlsPort = await freePort();
    own = await startRedisServer({
      args: ['--tls-port', String(tlsPort), '--tls-cert-file', cert, '--tls-key-file', key, '--tls-auth-clients', 'no'],
    });
  });
  afterAll(async () => {
    await own?.stop();
  });

  it('connects to a self-signed server when verification is turned off, as Heroku Redis needs', async () => {
    const config = loadConfig({ REDIS_URL: `rediss://127.0.0.1:${tlsPort}`, REDIS_TLS_REJECT_UNAUTHORIZED: 'false' });
    const redis = createRedisClient({ url: config.redis!.url, tlsRejectUnauthorized: config.redis!.tlsRejectUnauthorized });
    expect(await waitReady(redis, 5000)).toBe(true);
    expect(await redis.ping()).toBe('PONG');
    redis.disconnect();
  });

  it('refuses a self-signed certificate by default', async () => {
    const config = loadConfig({ REDIS_URL: `rediss://127.0.0.1:${tlsPort}` });
    expect(config.redis!.tlsRejectUnauthorized).toBe(true);
    const redis = createRedisClient({ url: config.redis!.url, tlsRejectUnauthorized: config.redis!.tlsRejectUnauthorized });
    const errors: Error[] = [];
    redis.on('error', (err: Error) => errors.push(err));
    expect(await waitReady(redis, 1500)).toBe(false);
    expect(errors.some((e) => /self[- ]signed|certificate/i.test(e.message))).toBe(true);
    redis.disconnect();
  });
});
