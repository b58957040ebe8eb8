import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { beforeEach, describe, expect, it } from 'vitest';
import { basic, frame, LOGPLEX, makeGateway, vectorLines, type TestGateway } from '../../test/support/gateway.js';
import { BARE_METRIC_CASES, LOGPLEX_DROP_CASES } from '../../test/support/metric-cases.js';

const herokuLines = vectorLines(readFileSync(new URL('../../protocol/vectors/heroku-lines.txt', import.meta.url), 'utf8'));

let gw: TestGateway;
beforeEach(async () => {
  gw = await makeGateway();
});

const ADDON = 'MyAddon (https://addons.heroku.com/my-addon; Ruby/2.1.2)';

function input(body: string | Buffer, headers: Record<string, string> = {}, method = 'POST') {
  return gw.app.request('/logs', {
    method,
    headers: { ...LOGPLEX, Authorization: basic(gw.a.ingest), 'User-Agent': ADDON, ...headers },
    body: method === 'GET' ? undefined : body,
  });
}

const line = (msg: string, app = 'my-addon') => `<190>1 2013-03-27T20:02:24.123456+00:00 hostname ${app} procid - - ${msg}`;

async function all() {
  return (await gw.store.query({ limit: 100, offset: 0 })).entries.reverse();
}

describe('POST /logs (Logplex input)', () => {
  it('answers 204 and stores full RFC 5424 frames with SD params in context and the add-on User-Agent', async () => {
    const body =
      frame('<13>1 2013-06-07T13:17:49.468822+00:00 host my-addon web.7 - [meta sequenceId="22984"][origin ip="10.0.0.\\]1"] hi') +
      frame(line('sample#tables=30 sample#active-connections=3'));
    const res = await input(body, { 'Logplex-Msg-Count': '2' });
    expect(res.status).toBe(204);
    const entries = await all();
    const first = entries.find((e) => e.proc === 'web.7');
    const second = entries.find((e) => e.proc === 'procid');
    expect(first).toMatchObject({ message: 'hi', user_agent: ADDON, app_id: 'app-a', proc: 'web.7' });
    expect(first!.context).toMatchObject({ meta: { sequenceId: '22984' }, origin: { ip: '10.0.0.]1' } });
    expect(second!.metrics).toEqual([
      { kind: 'sample', name: 'tables', value: 30 },
      { kind: 'sample', name: 'active-connections', value: 3 },
    ]);
  });

  it('reads "hi" and "hello" from framed-bodies #4 (SD is "-" on the input route)', async () => {
    const body =
      '64 <13>1 2013-06-07T13:17:49.468822+00:00 host heroku web.7 - - hi\n67 <13>1 2013-06-07T13:17:49.468822+00:00 host heroku web.7 - - hello\n';
    expect((await input(body)).status).toBe(204);
    expect((await all()).map((e) => e.message)).toEqual(['hi', 'hello']);
  });

  it('takes the token from each frame\'s APP-NAME without Basic auth, and stores the app id instead of the token', async () => {
    const body = frame(line('from a', gw.a.ingest)) + frame(line('from b', gw.b.ingest));
    const res = await gw.app.request('/logs', { method: 'POST', headers: LOGPLEX, body });
    expect(res.status).toBe(204);
    const entries = await all();
    expect(entries.map((e) => [e.app_id, e.source, e.message])).toEqual([
      ['app-a', 'app-a', 'from a'],
      ['app-b', 'app-b', 'from b'],
    ]);
    expect(JSON.stringify(entries)).not.toMatch(/t\.[0-9a-f]{8}-/);
  });

  it('answers 401 with WWW-Authenticate: Basic realm=Logplex for a missing, bad or unknown token', async () => {
    const cases = [
      gw.app.request('/logs', { method: 'POST', headers: LOGPLEX, body: frame(line('x', 'not-a-token')) }),
      input(frame(line('x')), { Authorization: basic('t.11111111-2222-3333-4444-555555555555') }),
      input(frame(line('x')), { Authorization: 'Basic !!!' }),
    ];
    for (const res of await Promise.all(cases)) {
      expect(res.status).toBe(401);
      expect(res.headers.get('WWW-Authenticate')).toBe('Basic realm=Logplex');
    }
    expect(await all()).toEqual([]);
  });

  it('answers 403 to a credential that may not write (a read token)', async () => {
    expect((await input(frame(line('x')), { Authorization: basic(gw.a.read) })).status).toBe(403);
  });

  it.each(herokuLines.map((l, i) => [i, l] as const))(
    'stores heroku-lines.txt line %i by input-mode rules, flagging missing_sd where no SD field follows MSGID',
    async (_i, l) => {
      // Drain lines carry no SD field; Logplex accepts them on its input route too, and so does
      // Sluice: the rest after MSGID is the message, flagged.
      const afterMsgId = l.split(' ').slice(6).join(' ');
      const hasSd = afterMsgId.startsWith('- ') || afterMsgId === '-' || /^(\[[^ \]=]+( [^ =\]]+="[^"]*")*\])+( |$)/.test(afterMsgId);
      const res = await input(frame(l));
      expect(res.status).toBe(204);
      const [e] = await all();
      expect(e!.flags?.includes('missing_sd') ?? false).toBe(!hasSd);
    },
  );

  it('answers 405 to methods other than POST', async () => {
    const res = await input('', {}, 'GET');
    expect(res.status).toBe(405);
    expect(res.headers.get('Allow')).toBe('POST');
  });

  it('answers 415 unless the Content-Type is application/logplex-1 or application/x-logplex-1', async () => {
    expect((await input(frame(line('x')), { 'Content-Type': 'text/plain' })).status).toBe(415);
    expect((await input(frame(line('x')), { 'Content-Type': 'application/x-logplex-1' })).status).toBe(204);
  });

  it('answers 400 for a gzip body that does not inflate, and 204 for one that does', async () => {
    expect((await input('garbage', { 'Content-Encoding': 'gzip' })).status).toBe(400);
    expect((await input(gzipSync(frame(line('zipped'))), { 'Content-Encoding': 'gzip' })).status).toBe(204);
  });

  it('answers 400 Malformed log messages for the whole batch when any frame is bad beyond repair (framed-bodies #3, #5)', async () => {
    const bodies = [
      "1000000 <158>1 2020-01-08T22:33:57.353034+00:00 host heroku router - i'm not that long",
      'what am i doing here',
      frame(line('good')) + frame('<13>x 2013-06-07T13:17:49Z host app web.1 - bad version'),
      frame(line('good')) + frame('<999>1 2013-06-07T13:17:49Z host app web.1 - bad pri'),
      frame(line('good')) + '400 ' + line('cut short: LEN far past the end'),
    ];
    for (const body of bodies) {
      const res = await input(body);
      expect(res.status).toBe(400);
      const json = (await res.json()) as { error: string; message: string };
      expect(json.error).toBe('malformed_log_messages');
      expect(json.message).toMatch(/^Malformed log messages/);
    }
    expect(await all()).toEqual([]);
  });

  it('stores every line whole when LEN is wrong in a repairable way, flagged length_mismatch (framed-bodies #1, #2, lpxc)', async () => {
    const l10 =
      '142 <172>1 2014-11-11T08:24:25+00:00 host heroku logplex - Error L10 (output buffer overflow): 1 messages dropped since 2014-11-07T23:29:45+00:00.93 <45>1 2014-11-11T08:24:24.064853+00:00 host heroku web.1 - State changed from starting to up';
    expect((await input(l10, { 'Logplex-Msg-Count': '2' })).status).toBe(204);
    // Heroku's lpxc counts LEN with Ruby's String#size: characters, not bytes.
    const lines = [line('héllo wörld ✓'), line('plain'), line('日本語のログ')];
    expect((await input(lines.map((l) => `${l.length} ${l}`).join(''), { 'Logplex-Msg-Count': '3' })).status).toBe(204);
    // framed-bodies #2's shape: LEN 2 short of the message (here with the Basic token's app).
    const msg = '<134>1 2012-12-10T03:00:48.123456Z erlang my-addon console.1 - - Logsplat test message 1';
    expect((await input(`${Buffer.byteLength(msg) - 2} ${msg}`)).status).toBe(204);
    const got = await all();
    // The L10 body is drain-style (no SD field): its lines are also flagged missing_sd.
    expect(Object.fromEntries(got.map((e) => [e.message, e.flags ?? []]))).toEqual({
      'Error L10 (output buffer overflow): 1 messages dropped since 2014-11-07T23:29:45+00:00.': ['missing_sd'],
      'State changed from starting to up': ['missing_sd'],
      'héllo wörld ✓': ['length_mismatch'],
      plain: [],
      '日本語のログ': ['length_mismatch'],
      'Logsplat test message 1': ['length_mismatch'],
    });
  });

  it('answers 400 Message count mismatch when Logplex-Msg-Count disagrees with the body', async () => {
    const res = await input(frame(line('one')) + frame(line('two')), { 'Logplex-Msg-Count': '3' });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'msg_count_mismatch' });
    expect(await all()).toEqual([]);
  });

  it('answers 503 when ingress is disabled', async () => {
    const off = await makeGateway({ ingestDisabled: true });
    const res = await off.app.request('/logs', { method: 'POST', headers: { ...LOGPLEX, Authorization: basic(off.a.ingest) }, body: frame(line('x')) });
    expect(res.status).toBe(503);
  });
});

describe('POST /logs: the paths and media types peers use (issue 10)', () => {
  // Logplex's own test suite posts to `/logs/`; Grafana Loki's Heroku target says
  // `application/heroku_drain-1`. Both answered 404 / 415 before.
  const paths = ['/logs', '/logs/'];
  const types = ['application/logplex-1', 'application/x-logplex-1', 'application/heroku_drain-1', 'application/heroku_drain-1; charset=utf-8'];
  const cases = paths.flatMap((path) => types.map((type) => [path, type] as const));

  it.each(cases)('POST %s with Content-Type %s answers 204 and stores the line', async (path, type) => {
    const res = await gw.app.request(path, {
      method: 'POST',
      headers: { 'Content-Type': type, Authorization: basic(gw.a.ingest), 'User-Agent': ADDON },
      body: frame(line('sample#queue.length=99')),
    });
    expect(res.status).toBe(204);
    const [e] = await all();
    expect(e!.metrics).toEqual([{ kind: 'sample', name: 'queue.length', value: 99 }]);
  });

  it.each(paths)('POST %s keeps Logplex\'s 415 for other content types', async (path) => {
    for (const type of ['text/plain', 'application/json', 'application/heroku_drain-2']) {
      const res = await gw.app.request(path, {
        method: 'POST',
        headers: { 'Content-Type': type, Authorization: basic(gw.a.ingest) },
        body: frame(line('x')),
      });
      expect(res.status).toBe(415);
    }
    expect(await all()).toEqual([]);
  });

  const methods = ['GET', 'PUT', 'DELETE', 'PATCH'];
  it.each(paths.flatMap((path) => methods.map((method) => [path, method] as const)))('%s answers 405 to %s with Allow: POST', async (path, method) => {
    const res = await gw.app.request(path, { method, headers: { Authorization: basic(gw.a.ingest) } });
    expect(res.status).toBe(405);
    expect(res.headers.get('Allow')).toBe('POST');
    expect(await res.json()).toMatchObject({ error: 'method_not_allowed' });
  });
});

describe('POST /logs: metrics of bare l2met keys and of Logplex L10/L11 lines (issue 10)', () => {
  it.each(BARE_METRIC_CASES)('stores %j with the metrics %j', async (message, want) => {
    expect((await input(frame(line(message)))).status).toBe(204);
    const [e] = await all();
    expect(e!.message).toBe(message);
    expect(e!.metrics ?? []).toEqual(want);
    expect(e!.flags).toBeUndefined();
  });

  it.each(LOGPLEX_DROP_CASES.filter(([m]) => m !== ''))('stores %j with the metric %j', async (message, want) => {
    const body = frame(`<172>1 2024-06-01T12:00:00+00:00 host heroku logplex - - ${message}`) + frame(line(message));
    expect((await input(body, { 'Logplex-Msg-Count': '2' })).status).toBe(204);
    for (const e of await all()) {
      expect(e.message).toBe(message);
      expect(e.metrics).toEqual(want === null ? undefined : [want]);
      if (want !== null) expect(e.level).toBe('ERROR');
    }
  });
});
