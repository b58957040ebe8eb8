/**
 * The bare `ws` reference of the fan-out benchmark: a `ws` 8 server (permessage-deflate off, as
 * the gateway) on node:http that broadcasts the same entries the gateway relays (the entry JSONs
 * of the bench bodies of either line mix, fanout/entries.ts) in the same frame formats, with
 * nothing else: no ingest, no store, no hub, no queues, no filters.
 *
 * A client subscribes as with the gateway (`{"type":"subscribe", …}`) plus `mode`, `mix`
 * (default `app`) and `client` (its index); the server answers `live` and, once told `start` over IPC, sends to every
 * subscribed client in turns (setImmediate), each client up to 500 entries per turn while its
 * `bufferedAmount` is under 1 MiB (the gateway's FANOUT_SOCKET_HIGH_WATER_BYTES and
 * FANOUT_BATCH_MAX), waiting for `drain` otherwise. Modes:
 *
 * - `each`: one `ws.send` per entry, `{"type":"log","data":E}` (string built in advance);
 * - `corked`: the same between `socket.cork()` and an uncork on the next tick (as the gateway's
 *   single-entry writer does);
 * - `batch50`: frames of 50 entries, `{"type":"logs","data":[E,…]}`, joined for each client;
 * - `batch50-shared`: the same frames built once as Buffers and sent to every client;
 * - `tick` (latency): on IPC `tick-start`, every `everyMs` one frame of `perTick` entries stamped
 *   with the send time (the `bench_t` placeholders of fanout/entries.ts) goes to every client.
 *
 * IPC: `start`, `stop` (answers the entries sent to each client, by index), `tick-start`,
 * `tick-stop`. Prints `BENCH_PORT=<port>` on stdout once listening on 127.0.0.1.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { entryJsons, epochMicros, fanoutBodies, STAMP_PLACEHOLDER, stampedTemplates, type Mix } from '../fanout/entries.js';

type Mode = 'each' | 'corked' | 'batch50' | 'batch50-shared' | 'tick';
interface Peer {
  ws: WebSocket;
  data: Data;
  socket: Socket;
  index: number;
  mode: Mode;
  cursor: number;
  sent: number;
  waiting: boolean;
}

const HIGH_WATER = 1024 * 1024;
const PER_TURN = 500;
const BATCH = 50;

/** What a peer is sent, for each line mix (fanout/entries.ts). */
interface Data {
  jsons: string[];
  logFrames: string[];
  sharedFrames: Buffer[];
  /** Latency: the stamped entries split at their placeholders (message and context hold one each). */
  stampedParts: string[][];
}
function build(mix: Mix): Data {
  const bodies = fanoutBodies(mix);
  const jsons = entryJsons(bodies); // a multiple of BATCH (100-line bodies)
  const sharedFrames: Buffer[] = [];
  for (let i = 0; i < jsons.length; i += BATCH) sharedFrames.push(Buffer.from(`{"type":"logs","data":[${jsons.slice(i, i + BATCH).join(',')}]}`));
  return {
    jsons,
    logFrames: jsons.map((j) => `{"type":"log","data":${j}}`),
    sharedFrames,
    stampedParts: entryJsons(stampedTemplates(bodies)).map((j) => j.split(STAMP_PLACEHOLDER)),
  };
}
const DATA: Record<Mix, Data> = { app: build('app'), heroku: build('heroku') };

const peers = new Set<Peer>();
let running = false;
let scheduled = false;

function schedule(): void {
  if (scheduled || !running) return;
  scheduled = true;
  setImmediate(turn);
}

function sendChunk(p: Peer): void {
  const { jsons, logFrames, sharedFrames } = p.data;
  const L = jsons.length;
  switch (p.mode) {
    case 'each':
      for (let k = 0; k < PER_TURN; k++) p.ws.send(logFrames[p.cursor++ % L]!);
      p.sent += PER_TURN;
      return;
    case 'corked': {
      p.socket.cork();
      for (let k = 0; k < PER_TURN; k++) p.ws.send(logFrames[p.cursor++ % L]!);
      p.sent += PER_TURN;
      const s = p.socket;
      process.nextTick(() => s.uncork());
      return;
    }
    case 'batch50':
      for (let k = 0; k < PER_TURN; k += BATCH) {
        const at = p.cursor % L;
        p.ws.send(`{"type":"logs","data":[${jsons.slice(at, at + BATCH).join(',')}]}`);
        p.cursor += BATCH;
      }
      p.sent += PER_TURN;
      return;
    case 'batch50-shared':
      for (let k = 0; k < PER_TURN; k += BATCH) {
        p.ws.send(sharedFrames[(p.cursor % L) / BATCH]!);
        p.cursor += BATCH;
      }
      p.sent += PER_TURN;
      return;
    case 'tick':
      return;
  }
}

function turn(): void {
  scheduled = false;
  if (!running) return;
  let any = false;
  for (const p of peers) {
    if (p.mode === 'tick') continue;
    if (p.ws.bufferedAmount >= HIGH_WATER) {
      if (!p.waiting) {
        p.waiting = true;
        p.socket.once('drain', () => {
          p.waiting = false;
          schedule();
        });
      }
      continue;
    }
    sendChunk(p);
    any = true;
  }
  if (any) schedule();
}

// Latency ticks: paced by elapsed time (not by counting timer firings), every `everyMs`.
let tickTimer: NodeJS.Timeout | undefined;
let tickSkipped = 0;
function startTicks(everyMs: number, perTick: number, mix: Mix): void {
  const { stampedParts } = DATA[mix];
  const L = stampedParts.length;
  const t0 = performance.now();
  let done = 0;
  let cursor = 0;
  tickTimer = setInterval(() => {
    const due = Math.floor((performance.now() - t0) / everyMs) - done;
    for (let d = 0; d < due; d++) {
      done++;
      const stamp = String(epochMicros());
      const parts: string[] = [];
      for (let k = 0; k < perTick; k++) parts.push(stampedParts[cursor++ % L]!.join(stamp));
      const frame = `{"type":"logs","data":[${parts.join(',')}]}`;
      for (const p of peers) {
        if (p.mode !== 'tick') continue;
        if (p.ws.bufferedAmount >= HIGH_WATER) {
          tickSkipped += perTick; // would be a gap: reported, expected to stay 0
          continue;
        }
        p.ws.send(frame);
        p.sent += perTick;
      }
    }
  }, 1);
}

const server = http.createServer((_req, res) => {
  res.writeHead(404).end();
});
const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 64 * 1024 });
wss.on('connection', (ws) => {
  const socket = (ws as unknown as { _socket: Socket })._socket;
  socket.setNoDelay(true);
  let peer: Peer | undefined;
  ws.send(JSON.stringify({ type: 'connected', connections: wss.clients.size }));
  ws.on('message', (data) => {
    const msg = JSON.parse(data.toString()) as { type?: string; mode?: Mode; client?: number; mix?: Mix };
    if (msg.type !== 'subscribe') return;
    peer = { ws, data: DATA[msg.mix ?? 'app'], socket, index: msg.client ?? -1, mode: msg.mode ?? 'each', cursor: 0, sent: 0, waiting: false };
    peers.add(peer);
    ws.send('{"type":"live"}');
    schedule();
  });
  ws.on('close', () => {
    if (peer) peers.delete(peer);
  });
  ws.on('error', () => ws.terminate());
});

process.on('message', (m: { id: number; cmd: string; everyMs?: number; perTick?: number; mix?: Mix }) => {
  const reply = (body: Record<string, unknown>) => process.send!({ re: m.id, ...body });
  switch (m.cmd) {
    case 'start':
      running = true;
      schedule();
      return reply({});
    case 'stop':
      running = false;
      return reply({ sent: Object.fromEntries([...peers].map((p) => [p.index, p.sent])) });
    case 'tick-start':
      tickSkipped = 0;
      startTicks(m.everyMs ?? 5, m.perTick ?? 100, m.mix ?? 'app');
      return reply({});
    case 'tick-stop':
      clearInterval(tickTimer);
      return reply({ sent: Object.fromEntries([...peers].map((p) => [p.index, p.sent])), skipped: tickSkipped });
  }
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`BENCH_PORT=${(server.address() as { port: number }).port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
