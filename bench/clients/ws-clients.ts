/**
 * The WebSocket clients of the fan-out benchmark, in a process of their own (bench/fanout.ts
 * drives it over IPC). It opens N `ws` clients to a server (the gateway's `/ws` or
 * servers/bare-ws.ts), subscribes each with the protocol's `subscribe` message, and counts what
 * arrives without parsing it:
 *
 * - a message starting `{"type":"log",` is one entry; one starting `{"type":"logs",` holds as many
 *   entries as it has `{"id":"` (an entry object starts so; inside a JSON string the quotes
 *   would be escaped), found with a byte search on the Buffer (`ws` hands text frames over as
 *   Buffers; UTF-8 validation is skipped, `skipUTF8Validation`, so no client spends time on it);
 * - 1 data frame in 100 is fully parsed: its entry count must equal the scanned count, and (with
 *   `orderCheck`) its entry ids must be greater than those of the previous parsed frame;
 * - any other message is parsed: `gap` (counted, with its `count`), `error`, `live`, …
 *
 * With `latency`, each data frame is given its arrival time (µs since the epoch, the clock the
 * feeder stamped the lines with, see fanout/entries.ts) and the latency of each of its entries
 * is recorded (arrival − `bench_t` stamp) in a histogram (10 µs buckets, 1 ms from 1 s), reading the stamps
 * body by body rather than entry by entry (see recordFrame).
 *
 * It pushes `{ t: 'p', min, total }` (entries received by the slowest client, and by all) every
 * 5 ms when they changed, for the closed-loop feeder.
 */
import WebSocket from 'ws';

interface OpenCmd {
  cmd: 'open';
  url: string;
  n: number;
  /** The subscribe message; `client` (the index) is added to it. */
  subscribe: Record<string, unknown>;
  latency?: boolean;
  orderCheck?: boolean;
}
type Cmd = { id: number } & (OpenCmd | { cmd: 'snapshot' } | { cmd: 'hist-reset' } | { cmd: 'hist' } | { cmd: 'recent' } | { cmd: 'close' });

interface Client {
  i: number;
  ws: WebSocket;
  count: number;
  frames: number;
  gaps: number;
  gapEntries: number;
  live: boolean;
  lastCheckedId: string;
  closed: string | null;
}

const B_OPEN = 0x7b; // {
const ID_OPEN = Buffer.from('{"id":"');
const STAMP = Buffer.from('bench_t');
/** Length of `{"type":"logs","data":[`: where the first entry of a `logs` frame starts. */
const LOGS_PREFIX = 23;

let clients: Client[] = [];
let latency = false;
let orderCheck = false;
let closing = false;
let total = 0;
let frames = 0;
let validated = 0;
let mismatches: string[] = [];
let errors: string[] = [];
let frameTick = 0;

// Histogram of ingest-to-delivery per entry: 10 µs buckets up to 1 s, then 1 ms buckets up to
// 100 s, then one overflow bucket.
const FINE = 100_000;
const BUCKETS = FINE + 99_000;
const bucketOf = (us: number) => (us < 1_000_000 ? Math.floor(us / 10) : Math.min(BUCKETS, FINE + Math.floor((us - 1_000_000) / 1000)));
const valueOf = (k: number) => (k < FINE ? (k + 0.5) * 10 : 1_000_000 + (k - FINE + 0.5) * 1000);
let hist = new Float64Array(BUCKETS + 1);
let histMax = 0;
let histCount = 0;
let histNegative = 0;

function note(list: string[], what: string): void {
  if (list.length < 20) list.push(what);
}

/** Entries in a `logs` frame between `from` and `to`: occurrences of `{"id":"` (the `{` found by memchr). */
function countEntries(b: Buffer, from = LOGS_PREFIX - 1, to = b.length): number {
  let n = 0;
  for (let at = b.indexOf(B_OPEN, from); at >= 0 && at < to; at = b.indexOf(B_OPEN, at + 1)) {
    if (b[at + 1] === 0x22 && b[at + 2] === 0x69 && b[at + 3] === 0x64 && b[at + 4] === 0x22 && b[at + 5] === 0x3a && b[at + 6] === 0x22) n++;
  }
  return n;
}

/** Where the 16 digits of the stamp whose `bench_t` is at `at` start. */
function digitsAt(b: Buffer, at: number): number {
  let p = at + STAMP.length;
  while (p < b.length && (b[p]! < 0x30 || b[p]! > 0x39)) p++;
  return p;
}

function readDigits(b: Buffer, p: number): number {
  let v = 0;
  for (let k = 0; k < 16; k++) v = v * 10 + (b[p + k]! - 0x30);
  return v;
}

// FANOUT_DEBUG: a latency timeline on stderr, every 500 ms (max, and entries over 20 ms).
let secMax = 0;
let secN = 0;
let secOver = 0;
if (process.env.FANOUT_DEBUG) {
  setInterval(() => {
    if (secN) process.stderr.write(`[clients] ${new Date().toISOString().slice(17, 23)} entries ${secN} max ${(secMax / 1000).toFixed(1)} ms, ${secOver} over 20 ms\n`);
    secMax = secN = secOver = 0;
  }, 500).unref();
}

/** The highest latency since the last `recent` request (for the warm-up: has the backlog cleared?). */
let recentMax = 0;

function record(latUs: number, weight: number): void {
  if (latUs > recentMax) recentMax = latUs;
  if (process.env.FANOUT_DEBUG) {
    secN += weight;
    if (latUs > secMax) secMax = latUs;
    if (latUs > 20_000) secOver += weight;
  }
  if (latUs < 0) {
    histNegative += weight;
    latUs = 0;
  }
  const k = bucketOf(latUs);
  hist[k]! += weight;
  histCount += weight;
  if (latUs > histMax) histMax = latUs;
}

/**
 * Latency of every entry of a data frame, cheaply. Entries are in send order and every line of a
 * body carries the same stamp, so the frame is read body by body from its end: the last stamp,
 * the first place its 16 digits occur (the first entry of that body), the entries from there to
 * the end (counted), then the same for what comes before. A few searches per body, not per entry.
 */
function recordFrame(b: Buffer, n: number, nowUs: number): void {
  let end = b.length;
  let left = n;
  while (left > 0) {
    const at = b.lastIndexOf(STAMP, end - 1);
    if (at < 0) return note(errors, 'a data frame without its bench_t stamps');
    const p = digitsAt(b, at);
    const stamp = readDigits(b, p);
    if (n === 1) return record(nowUs - stamp, 1);
    const first = b.indexOf(b.subarray(p, p + 16));
    const start = b.lastIndexOf(ID_OPEN, first);
    const k = countEntries(b, start, end);
    if (start < 0 || k === 0) return note(errors, 'cannot read the stamps of a data frame');
    record(nowUs - stamp, k);
    left -= k;
    end = start;
  }
}

function validate(c: Client, b: Buffer, n: number, logs: boolean): void {
  validated++;
  let msg: { type: string; data: { id: string } | { id: string }[] };
  try {
    msg = JSON.parse(b.toString('utf8')) as typeof msg;
  } catch (e) {
    return note(mismatches, `client ${c.i}: a data frame is not JSON (${(e as Error).message})`);
  }
  const entries = logs ? (msg.data as { id: string }[]) : [msg.data as { id: string }];
  if (msg.type !== (logs ? 'logs' : 'log') || !Array.isArray(entries)) return note(mismatches, `client ${c.i}: frame type ${msg.type}`);
  if (entries.length !== n) note(mismatches, `client ${c.i}: scanned ${n} entries, parsed ${entries.length}`);
  if (!orderCheck) return;
  for (const e of entries) {
    if (!(e.id > c.lastCheckedId)) note(mismatches, `client ${c.i}: id ${e.id} not after ${c.lastCheckedId}`);
    c.lastCheckedId = e.id;
  }
}

function onMessage(c: Client, data: Buffer): void {
  // `{"type":"log` → a data frame; byte 12 tells `logs` (s) from `log` (").
  if (data[9] === 0x6c && data[10] === 0x6f && data[11] === 0x67) {
    const logs = data[12] === 0x73;
    const n = logs ? countEntries(data) : 1;
    c.count += n;
    c.frames++;
    total += n;
    frames++;
    if (latency) recordFrame(data, n, Math.round((performance.timeOrigin + performance.now()) * 1000));
    if (++frameTick % 100 === 0) validate(c, data, n, logs);
    return;
  }
  let msg: { type?: string; count?: number; error?: string; message?: string };
  try {
    msg = JSON.parse(data.toString('utf8')) as typeof msg;
  } catch {
    return note(errors, `client ${c.i}: a message that is not JSON: ${data.toString('utf8', 0, 80)}`);
  }
  switch (msg.type) {
    case 'live':
      c.live = true;
      return;
    case 'gap':
      c.gaps++;
      c.gapEntries += msg.count ?? 0;
      return;
    case 'error':
      return note(errors, `client ${c.i}: error ${msg.error}: ${msg.message}`);
    case 'connected':
    case 'heartbeat':
    case 'pong':
    case 'stats':
      return;
    default:
      return note(errors, `client ${c.i}: unexpected message type ${String(msg.type)}`);
  }
}

function connect(i: number, cmd: OpenCmd): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(cmd.url, { perMessageDeflate: false, skipUTF8Validation: true, maxPayload: 256 * 1024 * 1024 });
    const c: Client = { i, ws, count: 0, frames: 0, gaps: 0, gapEntries: 0, live: false, lastCheckedId: '', closed: null };
    let pending = true;
    const timer = setTimeout(() => reject(new Error(`client ${i}: not live after 15 s`)), 15_000);
    ws.on('message', (data: Buffer) => {
      onMessage(c, data);
      if (pending && c.live) {
        pending = false;
        clearTimeout(timer);
        resolve(c);
      }
    });
    ws.once('open', () => ws.send(JSON.stringify({ ...cmd.subscribe, client: i })));
    ws.on('error', (err) => {
      note(errors, `client ${i}: ${err.message}`);
      clearTimeout(timer);
      reject(err);
    });
    ws.on('close', (code, reason) => {
      c.closed = `${code} ${reason.toString()}`;
      if (!closing) note(errors, `client ${i}: closed by the server: ${c.closed}`);
    });
  });
}

async function open(cmd: OpenCmd): Promise<void> {
  clients = [];
  latency = cmd.latency === true;
  orderCheck = cmd.orderCheck === true;
  closing = false;
  total = 0;
  frames = 0;
  validated = 0;
  frameTick = 0;
  mismatches = [];
  errors = [];
  resetHist();
  // 20 at a time: the server sees a burst of upgrades, as after a deploy, but not 100 at once.
  for (let i = 0; i < cmd.n; i += 20) {
    const batch = await Promise.all(Array.from({ length: Math.min(20, cmd.n - i) }, (_, k) => connect(i + k, cmd)));
    clients.push(...batch);
  }
}

function resetHist(): void {
  hist = new Float64Array(BUCKETS + 1);
  histMax = 0;
  histCount = 0;
  histNegative = 0;
}

function percentile(p: number): number {
  const want = histCount * p;
  let acc = 0;
  for (let k = 0; k <= BUCKETS; k++) {
    acc += hist[k]!;
    if (acc >= want && acc > 0) return k === BUCKETS ? histMax : Math.min(histMax, valueOf(k));
  }
  return histMax;
}

async function closeAll(): Promise<void> {
  closing = true;
  await Promise.all(
    clients.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.ws.readyState === WebSocket.CLOSED) return resolve();
          const t = setTimeout(() => {
            c.ws.terminate();
            resolve();
          }, 2000);
          c.ws.once('close', () => {
            clearTimeout(t);
            resolve();
          });
          c.ws.close();
        }),
    ),
  );
  clients = [];
}

let lastMin = -1;
let lastTotal = -1;
setInterval(() => {
  if (clients.length === 0) return;
  let min = Infinity;
  for (const c of clients) if (c.count < min) min = c.count;
  if (min === lastMin && total === lastTotal) return;
  lastMin = min;
  lastTotal = total;
  process.send!({ t: 'p', min, total });
}, 5);

process.on('message', (m: Cmd) => {
  const reply = (body: Record<string, unknown>) => process.send!({ re: m.id, ...body });
  const fail = (err: unknown) => reply({ error: (err as Error).message ?? String(err) });
  switch (m.cmd) {
    case 'open':
      open(m).then(() => reply({ n: clients.length }), fail);
      return;
    case 'snapshot': {
      const cpu = process.cpuUsage();
      reply({
        atUs: Math.round((performance.timeOrigin + performance.now()) * 1000),
        cpuUs: cpu.user + cpu.system,
        total,
        frames,
        counts: clients.map((c) => c.count),
        gaps: clients.reduce((s, c) => s + c.gaps, 0),
        gapEntries: clients.reduce((s, c) => s + c.gapEntries, 0),
        closed: clients.filter((c) => c.closed !== null).length,
        validated,
        mismatches,
        errors,
      });
      return;
    }
    case 'hist-reset':
      resetHist();
      reply({});
      return;
    case 'recent':
      reply({ maxUs: recentMax });
      recentMax = 0;
      return;
    case 'hist':
      reply({ count: histCount, p50: percentile(0.5), p99: percentile(0.99), max: histMax, negative: histNegative });
      return;
    case 'close':
      closeAll().then(() => reply({}), fail);
      return;
  }
});
process.on('disconnect', () => process.exit(0));
process.send!({ t: 'ready' });
