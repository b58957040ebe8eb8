/**
 * `npm run bench:regex`: what user regexes cost (issue 9, finding 3), in three set-ups, each in a
 * node of its own:
 * - `old`: the ordinary engine with V8's default fallback (50,000 backtracks), as before user
 *   regexes were restricted;
 * - `l`: the linear-time engine alone (`new RegExp(p, 'l')`), the previous design;
 * - `now`: compileRegex (src/query/user-regex.ts) under the flags of npm start: checked on the
 *   linear-time engine, refused above size 128, run on the ordinary engine with the fallback at
 *   1000 backtracks.
 * Rows: 1500 router lines of 220 characters (hostile lines of a's for the two ReDoS patterns), the
 * best of a few runs; then one exec on a 64 KiB line (MAX_MESSAGE_BYTES) of patterns built to
 * cost the most per unit of size, at the largest size accepted. Figures only.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { REGEX_NODE_FLAGS } from '../src/query/regex-flags.js';

type Mode = 'old' | 'l' | 'now';

const N64K = 65536;

function routerLine(i: number): string {
  const path = i % 3 ? `orders/${i}/items` : `users/${i}`;
  const s =
    `at=info method=GET path="/api/v1/${path}" host=shop.herokuapp.com request_id=8f2c${i}e0-4d1a-4b8e-9c3f ` +
    `fwd="10.1.${i % 255}.7" dyno=web.${i % 4} connect=0ms service=${i % 97}ms status=${i % 11 ? 200 : 503} bytes=${i * 7} protocol=https`;
  return s.padEnd(220, ' x').slice(0, 220);
}

const ROUTER = Array.from({ length: 1500 }, (_, i) => routerLine(i));
const HOSTILE = Array.from({ length: 1500 }, () => `${'a'.repeat(219)}b`);

/** [label, pattern, lines]: the table of the issue, then a few ordinary patterns. */
const TABLE: [string, string, string[]][] = [
  ['timeout', 'timeout', ROUTER],
  ['status=5\\d\\d', 'status=5\\d\\d', ROUTER],
  ['.*orders.*items.*', '.*orders.*items.*', ROUTER],
  ['^(\\w+=\\S+ ?)+$', '^(\\w+=\\S+ ?)+$', ROUTER],
  ['(a+)+$ on hostile lines', '(a+)+$', HOSTILE],
  ['(a|aa)*c on hostile lines', '(a|aa)*c', HOSTILE],
  ['.{16} x 8 + # (41 chars)', `${'.{16}'.repeat(8)}#`, ROUTER],
  ['.* x 255 + # (511 chars)', `${'.*'.repeat(255)}#`, ROUTER],
];

/** One exec on 64 KiB: shapes at size ≤ 128 that keep every thread of the linear-time engine alive. */
const LONG: [string, string, string][] = [
  ['.* x 21 + # (size 127)', `${'.*'.repeat(21)}#`, 'x'.repeat(N64K)],
  ['\\S* x 9 + # (size 118)', `${'\\S*'.repeat(9)}#`, 'x'.repeat(N64K)],
  ['(?:\\s*\\S*) x 4 + # (size 109)', `${'(?:\\s*\\S*)'.repeat(4)}#`, 'x '.repeat(N64K / 2)],
  ['[^#]{16} x 3 + # (size 97)', `${'[^#]{16}'.repeat(3)}#`, 'x'.repeat(N64K)],
  ['(?:x|x|x|x)* x 6 + # (size 121)', `${'(?:x|x|x|x)*'.repeat(6)}#`, 'x'.repeat(N64K)],
  ['.*orders.*items.* (size 29)', '.*orders.*items.*', JSON.stringify(Array.from({ length: 2000 }, (_, i) => ({ id: i, path: '/api/v1/orders' }))).slice(0, N64K)],
];

async function child(mode: Mode): Promise<void> {
  // Only for `now`: loading it sets the fallback threshold (1000) in this process.
  const compileRegex = mode === 'now' ? (await import('../src/query/user-regex.js')).compileRegex : undefined;
  const compile = (source: string): ((s: string) => boolean) | string => {
    try {
      if (mode === 'old') {
        const re = new RegExp(source);
        return (s) => re.test(s);
      }
      if (mode === 'l') {
        const re = new RegExp(source, 'l');
        return (s) => re.test(s);
      }
      const re = compileRegex!(source);
      return (s) => re.test(s);
    } catch (err) {
      return `refused (${(err as Error).message.slice(0, 40)}…)`;
    }
  };
  const time = (test: (s: string) => boolean, lines: string[], reps: number, capMs: number): number => {
    let best = Infinity;
    const start = performance.now();
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      for (const l of lines) test(l);
      best = Math.min(best, performance.now() - t0);
      if (performance.now() - start > capMs) break;
    }
    return best;
  };
  const out: Record<string, string> = {};
  for (const [label, source, lines] of TABLE) {
    const test = compile(source);
    out[label] = typeof test === 'string' ? test : `${fmt(time(test, lines, 5, 10_000))}`;
  }
  for (const [label, source, text] of LONG) {
    const test = compile(source);
    out[`64k ${label}`] = typeof test === 'string' ? test : `${fmt(time(test, [text], 3, 10_000))}`;
  }
  process.stdout.write(JSON.stringify(out));
}

function fmt(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 10 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(2)} ms`;
}

function run(mode: Mode): Record<string, string> {
  const flags = mode === 'old' ? REGEX_NODE_FLAGS.slice(0, 2) : REGEX_NODE_FLAGS;
  const res = spawnSync(process.execPath, [...flags, '--import', 'tsx', fileURLToPath(import.meta.url), `--child=${mode}`], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  if (res.status !== 0) throw new Error(`${mode}: ${res.stderr}`);
  return JSON.parse(res.stdout) as Record<string, string>;
}

const childMode = process.argv.find((a) => a.startsWith('--child='))?.slice(8) as Mode | undefined;
if (childMode) {
  await child(childMode);
} else {
  const results = { old: run('old'), l: run('l'), now: run('now') };
  const rows = Object.keys(results.now);
  const width = Math.max(...rows.map((r) => r.length));
  console.log(`${'pattern'.padEnd(width)}  ${'old (default fallback)'.padStart(24)}  ${'l'.padStart(12)}  ${'now'.padStart(12)}`);
  for (const row of rows) {
    const cell = (m: Mode) => (results[m][row]!.startsWith('refused') ? 'refused' : results[m][row]!);
    console.log(`${row.padEnd(width)}  ${cell('old').padStart(24)}  ${cell('l').padStart(12)}  ${cell('now').padStart(12)}`);
  }
}
