import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { beforeEach, describe, expect, it } from 'vitest';
import { basic, frame, LOGPLEX, makeGateway, vectorLines, type TestGateway } from '../../test/support/gateway.js';
import { sample } from '../../test/support/metrics.js';
import { BARE_METRIC_CASES, LOGPLEX_DROP_CASES } from '../../test/support/metric-cases.js';
import type { Entry } from '../normalize/entry.js';
import { createGatewayMetrics } from '../ops/metrics.js';

const vectors = new URL('../../protocol/vectors/', import.meta.url);
const herokuLines = vectorLines(readFileSync(new URL('heroku-lines.txt', vectors), 'utf8'));

let gw: TestGateway;
beforeEach(async () => {
  gw = await makeGateway();
});

function drain(body: string | Buffer, headers: Record<string, string> = {}, path = '/drain') {
  return gw.app.request(path, {
    method: 'POST',
    headers: { ...LOGPLEX, Authorization: basic(gw.a.ingest), ...headers },
    body,
  });
}

async function stored(appId = gw.a.id): Promise<Entry[]> {
  const { entries } = await gw.store.query({ appIds: [appId], limit: 1000, offset: 0 });
  return entries.reverse(); // oldest first
}

describe('POST /drain', () => {
  it('stores a Heroku router line with its fields, µs timestamp, status and implicit measures', async () => {
    const res = await drain(frame(herokuLines[0]!), { 'Logplex-Msg-Count': '1', 'User-Agent': 'Logplex/v72' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ accepted: 1, rejected: 0 });
    expect(res.headers.get('Sluice-Accepted')).toBe('1');
    const [e] = await stored();
    expect(e).toMatchObject({
      app_id: 'app-a',
      timestamp: '2020-01-08T22:33:57.353034Z',
      source: 'heroku',
      proc: 'router',
      host: 'host',
      level: 'INFO',
      status: 304,
      facility: 19,
      severity: 6,
      user_agent: 'Logplex/v72',
    });
    expect(e!.message).toMatch(/^at=info method=GET path="\/cart_link"/);
    expect(e!.metrics).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'measure', name: 'router.connect', value: 1, unit: 'ms' }),
        expect.objectContaining({ kind: 'measure', name: 'router.service', value: 22, unit: 'ms' }),
        expect.objectContaining({ kind: 'measure', name: 'router.bytes', value: 656 }),
      ]),
    );
  });

  it.each(herokuLines.map((l, i) => [i, l] as const))('accepts heroku-lines.txt line %i framed with and without a trailing LF', async (_i, line) => {
    const res = await drain(frame(line) + frame(line, false));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ accepted: 2, rejected: 0 });
    const [withLf, withoutLf] = await stored();
    // Both framings give the same entry; drain mode keeps everything after MSGID as the message.
    const msgid = line.split(' ').slice(0, 6).join(' '); // PRI+VERSION TIMESTAMP HOST APP PROCID MSGID
    const expected = line.length > msgid.length ? line.slice(msgid.length + 1) : '';
    expect(withLf!.message).toBe(expected);
    expect(withoutLf!.message).toBe(expected);
    expect(withLf!.timestamp).toBe(withoutLf!.timestamp);
  });

  it('keeps µs and converts -00:00 offsets to UTC, with the l2met measures of the line', async () => {
    const line = herokuLines.find((l) => l.includes('measure#hello'))!;
    await drain(frame(line));
    const [e] = await stored();
    expect(e!.timestamp).toBe('2013-07-22T00:06:26.000000Z');
    expect(e!.metrics).toEqual([
      { kind: 'measure', name: 'hello', value: 1 },
      { kind: 'measure', name: 'world', value: 1, unit: 'ms' },
    ]);
  });

  it('keeps a multi-line message whole (octets are counted, never split on LF)', async () => {
    const msg = '<11>1 2024-03-01T10:00:00.000001+00:00 host app web.1 - Error: boom\n    at handler (app.js:10:5)\n    at next (app.js:20:3)';
    const res = await drain(frame(msg) + frame('<13>1 2024-03-01T10:00:00.000002+00:00 host app web.1 - after'));
    expect(await res.json()).toEqual({ accepted: 2, rejected: 0 });
    const [first, second] = await stored();
    expect(first!.message).toBe('Error: boom\n    at handler (app.js:10:5)\n    at next (app.js:20:3)');
    expect(first!.level).toBe('ERROR');
    expect(second!.message).toBe('after');
  });

  it('keeps the glued L10 line and the last frame whose LEN counts the LF the body lacks (framed-bodies #1)', async () => {
    const body =
      '142 <172>1 2014-11-11T08:24:25+00:00 host heroku logplex - Error L10 (output buffer overflow): 1 messages dropped since 2014-11-07T23:29:45+00:00.93 <45>1 2014-11-11T08:24:24.064853+00:00 host heroku web.1 - State changed from starting to up';
    const res = await drain(body, { 'Logplex-Msg-Count': '2', 'User-Agent': 'Logplex/v72' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ accepted: 2, rejected: 0 });
    expect(res.headers.get('Sluice-Msg-Count-Mismatch')).toBeNull();
    // Stored in timestamp order: the glued line is a second older than the L10 line.
    const [next, l10] = await stored();
    expect(l10!.message).toContain('Error L10 (output buffer overflow)');
    expect(l10!.level).toBe('ERROR');
    expect(next!.message).toBe('State changed from starting to up');
    expect(next!.flags).toBeUndefined();
  });

  it('repairs a frame whose LEN is a few bytes short (framed-bodies #2): the whole line, flagged', async () => {
    const body = '116 <134>1 2012-12-10T03:00:48.123456Z erlang t.feff49f1-4d55-4c9e-aee1-2d2b10e69b42 console.1 - - Logsplat test message 1';
    const res = await drain(body);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ accepted: 1, rejected: 0 });
    const [e] = await stored();
    // Not Logplex's User-Agent: RFC 5424 framing, the `-` after MSGID is the nil SD.
    expect(e).toMatchObject({ message: 'Logsplat test message 1', flags: ['length_mismatch'] });
  });

  it('answers 400 when LEN runs far past the body (framed-bodies #3) or the body is not logplex (#5)', async () => {
    for (const body of ['1000000 <158>1 2020-01-08T22:33:57.353034+00:00 host heroku router - i\'m not that long', 'what am i doing here']) {
      const res = await drain(body);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'no_valid_frames' });
    }
    expect(await stored()).toEqual([]);
  });

  it('keeps "- hi" as the message from Logplex, whose drains carry no SD field (framed-bodies #4)', async () => {
    const body =
      '64 <13>1 2013-06-07T13:17:49.468822+00:00 host heroku web.7 - - hi\n67 <13>1 2013-06-07T13:17:49.468822+00:00 host heroku web.7 - - hello\n';
    const res = await drain(body, { 'User-Agent': 'Logplex/v72' });
    expect(await res.json()).toEqual({ accepted: 2, rejected: 0 });
    expect((await stored()).map((e) => e.message)).toEqual(['- hi', '- hello']);
  });

  it('reads "- -" after PROCID as nil MSGID and SD from log-shuttle and other senders (framed-bodies #4)', async () => {
    const body =
      '64 <13>1 2013-06-07T13:17:49.468822+00:00 host heroku web.7 - - hi\n67 <13>1 2013-06-07T13:17:49.468822+00:00 host heroku web.7 - - hello\n';
    for (const ua of ['excon/0.71.0', 'log-shuttle/0.19', undefined]) {
      gw = await makeGateway();
      const res = await drain(body, ua ? { 'User-Agent': ua } : {});
      expect(await res.json()).toEqual({ accepted: 2, rejected: 0 });
      expect((await stored()).map((e) => e.message)).toEqual(['hi', 'hello']);
    }
  });

  it("gives Logplex's own L10 line in log-shuttle framing its error level and message, from any sender", async () => {
    const l10 = '<172>1 2024-06-01T12:00:00+00:00 host heroku logplex - - Error L10 (output buffer overflow): 7 messages dropped since 2024-06-01T11:59:00+00:00.';
    for (const ua of ['Logplex/v72', 'excon/0.71.0']) {
      gw = await makeGateway();
      await drain(frame(l10), { 'User-Agent': ua });
      const [e] = await stored();
      expect(e).toMatchObject({ level: 'ERROR', message: expect.stringMatching(/^Error L10 /) });
    }
  });

  it('keeps [uuid]-style messages whole from any sender: only a lone - after MSGID is the nil SD', async () => {
    const body = frame('<190>1 2024-06-01T12:00:00+00:00 host app web.1 - [8f2c7e2a-1b3c] Started GET "/"');
    for (const ua of ['Logplex/v72', 'excon/0.71.0']) {
      gw = await makeGateway();
      await drain(body, { 'User-Agent': ua });
      expect((await stored())[0]!.message).toBe('[8f2c7e2a-1b3c] Started GET "/"');
    }
  });

  it('acknowledges a repeated Logplex-Frame-Id without storing the lines twice', async () => {
    const body = frame(herokuLines[0]!);
    const headers = { 'Logplex-Frame-Id': '09C557EAFCFB6CF2740EE62F62971098' };
    expect((await drain(body, headers)).status).toBe(200);
    const again = await drain(body, headers);
    expect(again.status).toBe(200);
    expect(again.headers.get('Sluice-Duplicate')).toBe('true');
    expect(await again.json()).toMatchObject({ accepted: 0, duplicate: true });
    expect(await stored()).toHaveLength(1);
  });

  it('stores the same Frame-Id again for another app (dedupe is per app)', async () => {
    const headers = { 'Logplex-Frame-Id': '09C557EAFCFB6CF2740EE62F62971098' };
    await drain(frame(herokuLines[0]!), headers);
    const res = await drain(frame(herokuLines[0]!), { ...headers, Authorization: basic(gw.b.ingest) });
    expect(await res.json()).toEqual({ accepted: 1, rejected: 0 });
    expect(await stored(gw.b.id)).toHaveLength(1);
  });

  it('works without any Logplex-* header (private-space drains) and keeps frame id and drain token when sent', async () => {
    expect((await drain(frame(herokuLines[1]!), { 'User-Agent': 'excon/0.71.0' })).status).toBe(200);
    await drain(frame(herokuLines[2]!), { 'Logplex-Frame-Id': 'abc', 'Logplex-Drain-Token': 'd.8b9d3a3e-1f54-4b8c-b7e1-6d5a1d1f3c21' });
    const entries = await stored();
    const first = entries.find((e) => e.user_agent === 'excon/0.71.0');
    const second = entries.find((e) => e.frame_id === 'abc');
    expect(first!.frame_id).toBeUndefined();
    expect(second).toMatchObject({ frame_id: 'abc', drain_token: 'd.8b9d3a3e-1f54-4b8c-b7e1-6d5a1d1f3c21' });
  });

  it('turns query parameters other than the token into tags, and accepts the token in the query', async () => {
    const res = await gw.app.request(`/drain?token=${gw.a.ingest}&env=prod&canary`, {
      method: 'POST',
      headers: LOGPLEX,
      body: frame(herokuLines[3]!),
    });
    expect(res.status).toBe(200);
    const [e] = await stored();
    expect(e!.tags).toEqual(['env=prod', 'canary']);
    expect(JSON.stringify(e)).not.toContain(gw.a.ingest);
  });

  it('answers on the /heroku/api/v1/drain alias too', async () => {
    const res = await drain(frame(herokuLines[4]!), {}, '/heroku/api/v1/drain');
    expect(res.status).toBe(200);
    expect(await stored()).toHaveLength(1);
  });

  it('accepts a gzip body and answers 413 for a gzip bomb', async () => {
    const ok = await drain(gzipSync(frame(herokuLines[0]!)), { 'Content-Encoding': 'gzip' });
    expect(ok.status).toBe(200);
    const small = await makeGateway({ maxInflatedBytes: 64 * 1024 });
    const bomb = gzipSync(Buffer.alloc(10 * 1024 * 1024, 0x20));
    const res = await small.app.request('/drain', {
      method: 'POST',
      headers: { ...LOGPLEX, Authorization: basic(small.a.ingest), 'Content-Encoding': 'gzip' },
      body: bomb,
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: 'body_too_large' });
  });

  it('accepts a small gzip body that inflates past the synchronous cap (1 MiB) but within the limit', async () => {
    const one = frame(herokuLines[0]!);
    const copies = Math.ceil((1.5 * 1024 * 1024) / Buffer.byteLength(one));
    const body = gzipSync(one.repeat(copies));
    expect(body.length).toBeLessThan(64 * 1024); // the synchronous path is tried first
    const big = await makeGateway({ historyPerApp: 10_000, historyBytesPerApp: 64 * 1024 * 1024 });
    const res = await big.app.request('/drain', {
      method: 'POST',
      headers: { ...LOGPLEX, Authorization: basic(big.a.ingest), 'Content-Encoding': 'gzip' },
      body,
    });
    expect(res.status).toBe(200);
    expect((await big.store.query({ appIds: [big.a.id], limit: 1, offset: 0 })).total).toBe(copies);
  });

  it('answers 400 for a gzip body that does not inflate', async () => {
    const res = await drain('not gzip at all', { 'Content-Encoding': 'gzip' });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'bad_encoding' });
  });

  it('answers 413 for a body over the limit', async () => {
    const small = await makeGateway({ maxBodyBytes: 1024 });
    const res = await small.app.request('/drain', {
      method: 'POST',
      headers: { ...LOGPLEX, Authorization: basic(small.a.ingest) },
      body: frame(herokuLines[0]!).repeat(10),
    });
    expect(res.status).toBe(413);
  });

  it('answers 401 with a Basic challenge without a token, and 401 for an unknown one', async () => {
    const none = await gw.app.request('/drain', { method: 'POST', headers: LOGPLEX, body: frame(herokuLines[0]!) });
    expect(none.status).toBe(401);
    expect(none.headers.get('WWW-Authenticate')).toMatch(/^Basic/);
    expect(await none.json()).toMatchObject({ error: 'unauthorized' });
    const unknown = await drain(frame(herokuLines[0]!), { Authorization: basic('t.00000000-0000-0000-0000-000000000000') });
    expect(unknown.status).toBe(401);
  });

  it('answers 403 to a read token', async () => {
    const res = await drain(frame(herokuLines[0]!), { Authorization: basic(gw.a.read) });
    expect(res.status).toBe(403);
  });

  it('answers 415 to a JSON content type', async () => {
    const res = await drain('{}', { 'Content-Type': 'application/json' });
    expect(res.status).toBe(415);
    expect(await res.json()).toMatchObject({ error: 'unsupported_media_type' });
  });

  it('answers 429 with Retry-After when the app is over its rate, storing nothing', async () => {
    const limited = await makeGateway({ rateLimitLinesPerSec: 1, rateLimitBurst: 2 });
    const post = () =>
      limited.app.request('/drain', {
        method: 'POST',
        headers: { ...LOGPLEX, Authorization: basic(limited.a.ingest) },
        body: frame(herokuLines[0]!) + frame(herokuLines[1]!),
      });
    expect((await post()).status).toBe(200);
    const res = await post();
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('Retry-After'))).toBeGreaterThanOrEqual(1);
    expect((await limited.store.query({ limit: 100, offset: 0 })).total).toBe(2);
  });

  it('answers 503 with Retry-After when ingest is disabled or the store cannot confirm the write', async () => {
    const off = await makeGateway({ ingestDisabled: true });
    const res = await off.app.request('/drain', {
      method: 'POST',
      headers: { ...LOGPLEX, Authorization: basic(off.a.ingest) },
      body: frame(herokuLines[0]!),
    });
    expect(res.status).toBe(503);
    await gw.store.close();
    const down = await drain(frame(herokuLines[0]!));
    expect(down.status).toBe(503);
    expect(down.headers.get('Retry-After')).toBeTruthy();
    expect(await down.json()).toMatchObject({ error: 'store_unavailable' });
  });
});

describe('POST /drain: the paths and media types peers use (issue 10)', () => {
  // Logplex's own test suite posts to `/drain/`; Grafana Loki's Heroku target (and senders built
  // for it) say `application/heroku_drain-1`. Both answered 404 / 415 before.
  const paths = ['/drain', '/drain/', '/heroku/api/v1/drain', '/heroku/api/v1/drain/'];
  const types = [
    'application/logplex-1',
    'application/x-logplex-1',
    'application/heroku_drain-1',
    'application/heroku_drain-1; charset=utf-8',
    'Application/Heroku_Drain-1',
    'text/plain',
    undefined,
  ];
  const cases = paths.flatMap((path) => types.map((type) => [path, type] as const));

  it.each(cases)('POST %s with Content-Type %s answers 200 and stores the line', async (path, type) => {
    const headers: Record<string, string> = { Authorization: basic(gw.a.ingest), 'User-Agent': 'Logplex/v72' };
    if (type !== undefined) headers['Content-Type'] = type;
    const res = await gw.app.request(path, { method: 'POST', headers, body: frame(herokuLines[0]!) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ accepted: 1, rejected: 0 });
    expect((await stored()).map((e) => e.proc)).toEqual(['router']);
  });

  it.each(paths)('POST %s answers 415 to a JSON or unknown content type', async (path) => {
    for (const type of ['application/json', 'application/heroku_drain-2', 'application/logplex-2']) {
      const res = await drain(frame(herokuLines[0]!), { 'Content-Type': type }, path);
      expect(res.status).toBe(415);
      expect(await res.json()).toMatchObject({ error: 'unsupported_media_type' });
    }
    expect(await stored()).toEqual([]);
  });

  it('labels the trailing-slash routes with their own template in /metrics', async () => {
    gw = await makeGateway({}, undefined, { metrics: createGatewayMetrics({ defaultMetrics: false }) });
    expect((await drain(frame(herokuLines[0]!), {}, '/drain/')).status).toBe(200);
    expect((await drain('{}', { 'Content-Type': 'application/json' }, '/heroku/api/v1/drain/')).status).toBe(415);
    const text = await gw.deps.metrics!.text();
    expect(sample(text, 'sluice_ingest_lines_total', { route: '/drain/', status: '200' })).toBe(1);
    expect(
      sample(text, 'sluice_ingest_rejected_requests_total', { route: '/heroku/api/v1/drain/', reason: 'unsupported_media_type' }),
    ).toBe(1);
  });
});

describe('POST /drain: metrics of bare l2met keys and of Logplex L10/L11 lines (issue 10)', () => {
  const senders = ['Logplex/v72', 'excon/0.71.0'];

  it.each(BARE_METRIC_CASES)('stores %j with the metrics %j', async (message, want) => {
    for (const ua of senders) {
      gw = await makeGateway();
      const res = await drain(frame(`<190>1 2024-06-01T12:00:00.000001+00:00 host app web.1 - ${message}`), { 'User-Agent': ua });
      expect(await res.json()).toEqual({ accepted: 1, rejected: 0 });
      const [e] = await stored();
      expect(e!.message).toBe(message);
      expect(e!.metrics ?? []).toEqual(want);
      expect(e!.flags).toBeUndefined();
    }
  });

  it.each(LOGPLEX_DROP_CASES.filter(([m]) => m !== ''))('stores %j with the metric %j, level ERROR', async (message, want) => {
    for (const ua of senders) {
      for (const header of ['<172>1 2024-06-01T12:00:00+00:00 host heroku logplex -', '<190>1 2024-06-01T12:00:00+00:00 host app web.1 -']) {
        gw = await makeGateway();
        await drain(frame(`${header} ${message}`), { 'User-Agent': ua });
        const [e] = await stored();
        expect(e!.message).toBe(message);
        expect(e!.metrics).toEqual(want === null ? undefined : [want]);
        if (want !== null) expect(e!.level).toBe('ERROR');
      }
    }
  });

  it('gives each line of a body its own metrics: both L10 wordings, a bare key, a router line (heroku-lines.txt)', async () => {
    const l10Old = herokuLines.find((l) => l.includes('messages dropped since'))!;
    const l10New = herokuLines.find((l) => l.includes('dropped 12 messages'))!;
    const bare = herokuLines.find((l) => l.endsWith(' - measure#a'))!;
    const res = await drain(frame(l10Old) + frame(l10New, false) + frame(bare) + frame(herokuLines[0]!), { 'User-Agent': 'Logplex/v72' });
    expect(await res.json()).toEqual({ accepted: 4, rejected: 0 });
    const entries = await stored();
    // A line's entry: its message is everything after MSGID (drain mode).
    const get = (line: string) => entries.find((e) => line.endsWith(` - ${e.message}`))!;
    expect(get(l10Old)).toMatchObject({ level: 'ERROR', source: 'heroku', proc: 'logplex', severity: 4 });
    expect(get(l10Old).metrics).toEqual([{ kind: 'count', name: 'logplex.l10.dropped', value: 1, unit: 'messages' }]);
    expect(get(l10New)).toMatchObject({ level: 'ERROR', source: 'heroku', proc: 'logplex', severity: 4 });
    expect(get(l10New).metrics).toEqual([{ kind: 'count', name: 'logplex.l10.dropped', value: 12, unit: 'messages' }]);
    expect(get(bare).metrics).toEqual([{ kind: 'measure', name: 'a', value: 1 }]);
    expect(get(herokuLines[0]!).metrics!.map((m) => m.name)).toEqual(['router.connect', 'router.service', 'router.bytes']);
  });
});
