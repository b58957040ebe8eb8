/**
 * ANSI escape sequences → styled segments. SGR (`ESC [ … m`) sets colours and weight; every other
 * escape (cursor moves, OSC titles and links) is dropped, never shown as text. Pure, no DOM.
 */

/** A run of text with one style. `fg`/`bg`: a palette index 0–15 as `p3`, or `#rrggbb`. */
export interface Segment {
  text: string;
  fg?: string;
  bg?: string;
  bold?: boolean;
  dim?: boolean;
  italic?: boolean;
  underline?: boolean;
}

// CSI sequences (ESC [ params final), OSC (ESC ] … BEL or ESC \), and lone two-byte escapes.
// eslint-disable-next-line no-control-regex
const ESCAPES = /\u001b\[([0-9;:?]*)([@-~])|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|\u001b[@-Z\\-_]?/g;

/** The text with every escape sequence removed. */
export function stripAnsi(s: string): string {
  return s.indexOf('\u001b') < 0 ? s : s.replace(ESCAPES, '');
}

type Style = Omit<Segment, 'text'>;

/** xterm's 256-colour cube and grey ramp, as `#rrggbb`; 0–15 stay palette entries. */
function color256(n: number): string | undefined {
  if (!Number.isInteger(n) || n < 0 || n > 255) return undefined;
  if (n < 16) return `p${n}`;
  if (n >= 232) {
    const v = 8 + (n - 232) * 10;
    return hex(v, v, v);
  }
  const i = n - 16;
  const level = (x: number) => (x === 0 ? 0 : 55 + x * 40);
  return hex(level(Math.floor(i / 36)), level(Math.floor(i / 6) % 6), level(i % 6));
}

function hex(r: number, g: number, b: number): string {
  const h = (x: number) => Math.max(0, Math.min(255, x | 0)).toString(16).padStart(2, '0');
  return `#${h(r)}${h(g)}${h(b)}`;
}

function applySgr(style: Style, params: string): Style {
  const codes = params === '' ? [0] : params.split(/[;:]/).map((p) => (p === '' ? 0 : Number(p)));
  const next: Style = { ...style };
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i]!;
    if (c === 0) {
      for (const k of Object.keys(next) as (keyof Style)[]) delete next[k];
    } else if (c === 1) next.bold = true;
    else if (c === 2) next.dim = true;
    else if (c === 3) next.italic = true;
    else if (c === 4) next.underline = true;
    else if (c === 22) {
      delete next.bold;
      delete next.dim;
    } else if (c === 23) delete next.italic;
    else if (c === 24) delete next.underline;
    else if (c >= 30 && c <= 37) next.fg = `p${c - 30}`;
    else if (c >= 90 && c <= 97) next.fg = `p${c - 90 + 8}`;
    else if (c >= 40 && c <= 47) next.bg = `p${c - 40}`;
    else if (c >= 100 && c <= 107) next.bg = `p${c - 100 + 8}`;
    else if (c === 39) delete next.fg;
    else if (c === 49) delete next.bg;
    else if (c === 38 || c === 48) {
      const key = c === 38 ? 'fg' : 'bg';
      let value: string | undefined;
      if (codes[i + 1] === 5) {
        value = color256(codes[i + 2]!);
        i += 2;
      } else if (codes[i + 1] === 2) {
        value = hex(codes[i + 2]!, codes[i + 3]!, codes[i + 4]!);
        i += 4;
      }
      if (value) next[key] = value;
    }
  }
  return next;
}

/** Splits a message into styled segments; text without escapes is one plain segment. */
export function parseAnsi(s: string): Segment[] {
  if (s.indexOf('\u001b') < 0) return [{ text: s }];
  const out: Segment[] = [];
  let style: Style = {};
  let last = 0;
  ESCAPES.lastIndex = 0;
  for (let m = ESCAPES.exec(s); m; m = ESCAPES.exec(s)) {
    if (m.index > last) out.push({ text: s.slice(last, m.index), ...style });
    last = m.index + m[0].length;
    if (m[2] === 'm') style = applySgr(style, m[1] ?? '');
  }
  if (last < s.length) out.push({ text: s.slice(last), ...style });
  return out.length > 0 ? out : [{ text: '' }];
}
