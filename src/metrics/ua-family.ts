/**
 * A User-Agent's family: its first product name, lower-cased (`sluice-node/0.1.0 (node 20)` →
 * `sluice-node`, `Logplex/v123` → `logplex`, `curl/8.5.0` → `curl`), `(none)` without one. What
 * the Sources panel and the `producer.lines` series group producers by: few values, so a
 * bounded label, unlike the full string with its versions.
 */

const NONE = '(none)';
const MAX_FAMILY = 40;
/** Families seen, by User-Agent: a gateway sees a handful of distinct strings. */
const cache = new Map<string, string>();
const CACHE_MAX = 1000;

let lastUa = '';
let lastFamily = NONE;

export function uaFamily(userAgent: string | undefined): string {
  if (!userAgent) return NONE;
  // A batch's entries share their User-Agent: the same string, compared before any lookup.
  if (userAgent === lastUa) return lastFamily;
  lastUa = userAgent;
  lastFamily = familyOf(userAgent);
  return lastFamily;
}

function familyOf(userAgent: string): string {
  const hit = cache.get(userAgent);
  if (hit !== undefined) return hit;
  const m = /^\s*([A-Za-z0-9][A-Za-z0-9._+-]*)/.exec(userAgent);
  const family = m ? m[1]!.slice(0, MAX_FAMILY).toLowerCase() : NONE;
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(userAgent, family);
  return family;
}
