/**
 * A static over-estimate of what a user regex costs on V8's linear-time engine, the engine every
 * accepted pattern may end up on (user-regex.ts). That engine simulates every thread of the
 * pattern at once: matching costs, per character of the message, about one step per
 * instruction of the compiled pattern. Its compiler expands the pattern: a class becomes one
 * instruction per character range (`.` is 4 ranges, `\s` 10), `x{n,m}` becomes m copies of x,
 * `x+` two (x, then x*), `x{n,}` n + 1, nested counts multiply. {@link regexSize} counts those
 * instructions from the pattern's text, rounding every doubt up: it may over-estimate, never
 * under-estimate (src/query/regex-size.test.ts checks it against patterns it gets wrong on
 * purpose, and the range counts against V8 itself).
 *
 * The pattern must already compile as a JavaScript regular expression without flags (the
 * caller checks): the scanner follows that syntax (Annex B: a `{` that is no quantifier is a
 * literal) without validating it.
 */

/**
 * Ranges of the class escapes without the `u` flag, counted over the UTF-16 code units
 * (regex-size.test.ts recounts them from V8): `\d` [0-9]; `\w` [0-9A-Z_a-z]; `\s` the 10 runs of
 * white space and line terminators; their complements one more; `.` everything but 4 line
 * terminators in 3 runs.
 */
const CLASS_ESCAPE_RANGES: Readonly<Record<string, number>> = { d: 1, D: 2, w: 4, W: 5, s: 10, S: 11 };
const DOT_RANGES = 4;

/** What {@link Scanner.classItem} answers for one character: a range of its own, or a range's end. */
const SINGLE = -1;

/** The ranges of a class item (see {@link SINGLE}). */
function ranges_(item: number): number {
  return item === SINGLE ? 1 : item;
}

/** Counts above this are all "huge" (the caller refuses far lower); keeps the arithmetic exact. */
const HUGE = 1e9;

/**
 * The estimated size of `source` on the linear-time engine: consuming instructions (one per
 * character range), plus one per fork, assertion and group, with repetition expanded as that
 * engine's compiler expands it. Over-estimates, never under-estimates.
 *
 * @example
 * regexSize('timeout'); // 7
 * regexSize('.{16}'); // 64: 16 copies of `.`, 4 ranges each
 * regexSize('(x{4}){5}'); // 30: 5 × (4 + 2 for the group)
 */
export function regexSize(source: string): number {
  const scanner = new Scanner(source);
  const size = scanner.disjunction();
  // A `)` without its `(` does not compile; counted anyway, and whatever follows it.
  let total = size;
  while (!scanner.done()) {
    scanner.pos++;
    total = add(total, add(1, scanner.disjunction()));
  }
  return total;
}

function add(a: number, b: number): number {
  return Math.min(HUGE, a + b);
}

function mul(a: number, b: number): number {
  return Math.min(HUGE, a * b);
}

class Scanner {
  pos = 0;

  constructor(private readonly s: string) {}

  done(): boolean {
    return this.pos >= this.s.length;
  }

  /** Alternatives up to the `)` that closes the current group (not consumed) or the end. */
  disjunction(): number {
    let total = this.alternative();
    while (this.s[this.pos] === '|') {
      this.pos++;
      // One fork per alternative.
      total = add(total, add(1, this.alternative()));
    }
    return total;
  }

  private alternative(): number {
    let total = 0;
    while (!this.done() && this.s[this.pos] !== '|' && this.s[this.pos] !== ')') {
      const atom = this.atom();
      total = add(total, this.quantified(atom));
    }
    return total;
  }

  /** The quantifier after an atom of size `size`, if any, applied: the expanded size. */
  private quantified(size: number): number {
    const c = this.s[this.pos];
    let min: number;
    let max: number; // Infinity: unbounded
    if (c === '*' || c === '+' || c === '?') {
      this.pos++;
      min = c === '+' ? 1 : 0;
      max = c === '?' ? 1 : Infinity;
    } else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.s.slice(this.pos, this.pos + 40));
      if (!m) return size; // a literal `{`: the next atom
      this.pos += m[0].length;
      min = Math.min(HUGE, Number(m[1]));
      max = m[2] === undefined ? min : m[3] === '' ? Infinity : Math.min(HUGE, Number(m[3]));
    } else {
      return size;
    }
    if (this.s[this.pos] === '?') this.pos++; // lazy: the same instructions
    // `min` copies, then either a loop of one more copy (a fork and a jump) or `max - min`
    // optional copies (a fork each).
    const fixed = mul(min, size);
    if (max === Infinity) return add(fixed, add(size, 2));
    return add(fixed, mul(max - min, add(size, 1)));
  }

  private atom(): number {
    const c = this.s[this.pos]!;
    switch (c) {
      case '(':
        return this.group();
      case '[':
        return this.characterClass();
      case '\\':
        return this.escape();
      case '.':
        this.pos++;
        return DOT_RANGES;
      default:
        // A literal (`{`, `}` and `]` too, Annex B), or an assertion `^` `$`: one instruction.
        this.pos++;
        return 1;
    }
  }

  private group(): number {
    this.pos++; // (
    if (this.s[this.pos] === '?') {
      // (?: (?= (?! (?<= (?<! or a name (?<name>: skip to the body.
      this.pos++;
      if (this.s[this.pos] === '<' && this.s[this.pos + 1] !== '=' && this.s[this.pos + 1] !== '!') {
        const close = this.s.indexOf('>', this.pos);
        this.pos = close < 0 ? this.s.length : close + 1;
      } else {
        this.pos += this.s[this.pos] === '<' ? 2 : 1;
      }
    }
    const body = this.disjunction();
    if (this.s[this.pos] === ')') this.pos++;
    // Two register writes (a capture's start and end), counted for every group.
    return add(body, 2);
  }

  /** `\` and what it escapes: a class escape by its ranges, anything else one instruction. */
  private escape(): number {
    const next = this.s[this.pos + 1];
    this.pos += next === undefined ? 1 : 2;
    // `\x41`, `\u0041`, `\cA`, `\12`, `\k<n>`: their tail is scanned as literals, one each,
    // which can only add (a quantifier after them then repeats a one-instruction literal,
    // as it repeats the one-character escape).
    return next !== undefined ? (CLASS_ESCAPE_RANGES[next] ?? 1) : 1;
  }

  /**
   * `[…]`: one instruction per character range. Every item counts as its own range(s) (`a-z`
   * one, `\w` four), so items that merge or overlap are over-counted, never under-counted; a
   * negated class has at most one range more than its items.
   */
  private characterClass(): number {
    this.pos++; // [
    let ranges = 0;
    if (this.s[this.pos] === '^') {
      this.pos++;
      ranges++;
    }
    while (!this.done() && this.s[this.pos] !== ']') {
      const first = this.classItem();
      if (this.s[this.pos] === '-' && this.pos + 1 < this.s.length && this.s[this.pos + 1] !== ']') {
        this.pos++; // -
        const second = this.classItem();
        // `a-z` is one range; with a class escape at either end (`[\d-z]`, Annex B) the `-` is
        // a literal: all three count.
        ranges = add(ranges, first === SINGLE && second === SINGLE ? 1 : add(add(ranges_(first), ranges_(second)), 1));
      } else {
        ranges = add(ranges, ranges_(first));
      }
    }
    if (this.s[this.pos] === ']') this.pos++;
    return Math.max(1, ranges);
  }

  /**
   * One character or escape inside a class: {@link SINGLE} for one character (which can start
   * or end a range), else the ranges of a class escape (`\d`: 1, `\w`: 4).
   */
  private classItem(): number {
    if (this.s[this.pos] !== '\\') {
      this.pos++;
      return SINGLE;
    }
    const next = this.s[this.pos + 1];
    if (next === 'x' && /^[0-9a-fA-F]{2}$/.test(this.s.slice(this.pos + 2, this.pos + 4))) {
      this.pos += 4;
      return SINGLE;
    }
    if (next === 'u' && /^[0-9a-fA-F]{4}$/.test(this.s.slice(this.pos + 2, this.pos + 6))) {
      this.pos += 6;
      return SINGLE;
    }
    if (next === 'c' && /^[A-Za-z]$/.test(this.s[this.pos + 2] ?? '')) {
      this.pos += 3;
      return SINGLE;
    }
    if (next !== undefined && next in CLASS_ESCAPE_RANGES) {
      this.pos += 2;
      return CLASS_ESCAPE_RANGES[next]!;
    }
    // `\b` (a backspace here), `\-`, `\]` and other identity escapes: one character. An
    // octal escape `\12` scans as `\1` then `2`: two ranges for one, an over-count.
    this.pos += next === undefined ? 1 : 2;
    return SINGLE;
  }
}

/**
 * `source` with every capturing group made non-capturing: `(x)` and `(?<name>x)` become `(?:x)`.
 * For a pattern without backreferences (the caller refuses those) `test` answers the same,
 * since captures only change what a match reports; and both engines run it faster, V8's
 * linear-time one much faster: it copies every capture register of a thread at each fork, so
 * `(x?)` 50 times over cost it 1.7 s on a 64 KiB line, `(?:x?)` 50 times over 0.18 s (measured).
 *
 * @example
 * nonCapturing('^(GET|POST) (?<path>/api)'); // '^(?:GET|POST) (?:/api)'
 */
export function nonCapturing(source: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '\\') {
      out += source.slice(i, i + 2);
      i++;
    } else if (inClass) {
      if (c === ']') inClass = false;
      out += c;
    } else if (c === '[') {
      inClass = true;
      out += c;
    } else if (c === '(' && source[i + 1] !== '?') {
      out += '(?:';
    } else if (c === '(' && source[i + 2] === '<' && source[i + 3] !== '=' && source[i + 3] !== '!') {
      // (?<name>: the name ends at the first `>` (a name holds no `>`).
      const close = source.indexOf('>', i + 3);
      out += '(?:';
      i = close < 0 ? source.length : close;
    } else {
      out += c;
    }
  }
  return out;
}
