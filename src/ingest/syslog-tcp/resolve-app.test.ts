import { describe, expect, it } from 'vitest';
import type { SyslogRecord } from '../../decode/types.js';
import { FrameAppResolver } from './resolve-app.js';

const rec = (appName: string | null, structuredData: SyslogRecord['structuredData'] = null): SyslogRecord => ({
  facility: 1,
  severity: 6,
  timestamp: null,
  invalidTimestamp: false,
  hostname: null,
  appName,
  procId: null,
  msgId: null,
  structuredData,
  message: 'm',
  invalidUtf8: false,
  format: 'rfc5424',
});

describe('FrameAppResolver', () => {
  const lookup = async (token: string) => (token === 't.ok' ? ({ kind: 'ingest', appId: 'shop' } as never) : null);

  it('marks frames without a token as bound (their bytes hold no secret), and only them', async () => {
    const r = new FrameAppResolver(lookup, 'bench');
    expect(r.resolve(rec('app'))).toEqual({ appId: 'bench', bound: true });
    expect(r.resolve(rec('app', { meta: { a: '1' } }))).toEqual({ appId: 'bench', bound: true });
    expect(await r.resolve(rec('t.ok'))).toEqual({ appId: 'shop', appNameOverride: 'shop' });
    const sd = { meta: { token: 't.ok', a: '1' } };
    expect(await r.resolve(rec('app', sd))).toEqual({ appId: 'shop' });
    expect(sd).toEqual({ meta: { a: '1' } });
    expect(new FrameAppResolver(lookup, undefined).resolve(rec('app'))).toEqual({ reason: 'no_token' });
  });
});
