/**
 * Self time per request of two V8 `.cpuprofile`s (e.g. the gateway with and without a change,
 * from `--cpu-prof`), by function, largest differences first.
 *
 *   npx tsx bench/tools/cpuprofile-diff.ts A.cpuprofile <requests in A> B.cpuprofile <requests in B>
 */
import { readFileSync } from 'node:fs';
const [a, na, b, nb] = process.argv.slice(2);
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
}

/** Self time (µs) by `function file`. */
function self(file: string): Map<string, number> {
  const p = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const m = new Map<string, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const cf = byId.get(p.samples[i]!)!.callFrame;
    const k = `${cf.functionName || '(anon)'} ${cf.url.replace(/^.*\/(node_modules|src)\//, '$1/')}`;
    m.set(k, (m.get(k) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  return m;
}
const A = self(a!), B = self(b!);
const keys = new Set([...A.keys(), ...B.keys()]);
const rows = [...keys].map((k) => [k, (A.get(k) ?? 0) / Number(na), (B.get(k) ?? 0) / Number(nb)] as const).map(([k, x, y]) => [k, x, y, y - x] as const);
rows.sort((p, q) => Math.abs(q[3]) - Math.abs(p[3]));
for (const [k, x, y, d] of rows.slice(0, 35)) console.log(`${d.toFixed(1).padStart(7)} µs/req  (${x.toFixed(1)} → ${y.toFixed(1)})  ${k}`);
const tot = (M: Map<string, number>, n: number) => ([...M].filter(([k]) => !k.startsWith('(idle)')).reduce((s, [, v]) => s + v, 0) / n).toFixed(1);
console.log('busy µs/req', tot(A, Number(na)), '→', tot(B, Number(nb)));
