/**
 * An entry's message as DOM: ANSI colours as spans, search matches as `<mark>`. Text always goes
 * in through text nodes, never as HTML.
 */
import { parseAnsi, type Segment } from './ansi.js';

/** Applies a segment's style to a span (CSSOM only: the page's CSP forbids style attributes). */
function styled(seg: Segment): HTMLElement {
  const span = document.createElement('span');
  const cls: string[] = [];
  if (seg.fg) {
    if (seg.fg.startsWith('p')) cls.push(`a-f${seg.fg.slice(1)}`);
    else span.style.color = seg.fg;
  }
  if (seg.bg) {
    if (seg.bg.startsWith('p')) cls.push(`a-b${seg.bg.slice(1)}`);
    else span.style.backgroundColor = seg.bg;
  }
  if (seg.bold) cls.push('a-bold');
  if (seg.dim) cls.push('a-dim');
  if (seg.italic) cls.push('a-italic');
  if (seg.underline) cls.push('a-under');
  if (cls.length) span.className = cls.join(' ');
  return span;
}

const plain = (s: Segment) => !s.fg && !s.bg && !s.bold && !s.dim && !s.italic && !s.underline;

/**
 * Appends `message` to `parent`: ANSI segments as styled spans, `ranges` (offsets in the text
 * without escapes) wrapped in `<mark>`. `oneLine` shows line breaks as ↵ (same length, so the
 * ranges still line up).
 */
export function appendMessage(parent: HTMLElement, message: string, ranges: [number, number][] = [], oneLine = false): void {
  const segs = parseAnsi(message);
  const clean = (t: string) => (oneLine ? t.replace(/\r?\n|\r/g, (m) => (m.length === 2 ? ' ↵' : '↵')) : t);
  if (segs.length === 1 && plain(segs[0]!) && ranges.length === 0) {
    parent.append(clean(segs[0]!.text));
    return;
  }
  let offset = 0;
  let r = 0;
  for (const seg of segs) {
    const target = plain(seg) ? parent : parent.appendChild(styled(seg));
    const text = seg.text;
    let at = 0;
    while (at < text.length) {
      while (r < ranges.length && ranges[r]![1] <= offset + at) r++;
      const range = ranges[r];
      if (!range || range[0] >= offset + text.length) {
        target.append(clean(text.slice(at)));
        break;
      }
      const from = Math.max(at, range[0] - offset);
      if (from > at) target.append(clean(text.slice(at, from)));
      const to = Math.min(text.length, range[1] - offset);
      const mark = document.createElement('mark');
      mark.textContent = clean(text.slice(from, to));
      target.append(mark);
      at = to;
    }
    offset += text.length;
  }
}
