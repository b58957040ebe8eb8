/**
 * The detail of one entry: every field (a click on a value adds a filter on it), the message with
 * its colours, `context` as a collapsible JSON tree, metrics as a table, the stack trace as is.
 */
import { h } from '../shared/dom.js';
import type { Entry } from '../shared/model.js';
import { appendMessage } from './message.js';

/** `2026-01-15 14:22:00.123456` in local time (with the zone) or the stored UTC form. */
function fullTime(iso: string, utc: boolean): string {
  if (utc) return iso;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const micros = /\.(\d{6})Z$/.exec(iso)?.[1] ?? p(d.getMilliseconds(), 3);
  const off = -d.getTimezoneOffset();
  const zone = `${off >= 0 ? '+' : '-'}${p(Math.floor(Math.abs(off) / 60))}:${p(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${micros} ${zone}`;
}

/** A click on a field: which field (dotted path for context keys) and its value. */
export type OnField = (field: string, value: string) => void;

const TOP_FIELDS = [
  'level',
  'timestamp',
  'received_at',
  'app_id',
  'source',
  'proc',
  'host',
  'environment',
  'status',
  'trace_id',
  'batch_id',
  'category',
  'user_agent',
  'facility',
  'severity',
  'frame_id',
  'drain_token',
  'id',
] as const;

function fieldButton(field: string, value: unknown, onField: OnField): HTMLElement {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return h('button', { type: 'button', class: 'field-value', 'data-field': field, title: `Filter on ${field}`, onclick: () => onField(field, text) }, text);
}

/** `context` (any JSON) as nested `<details>`; leaves are buttons that filter on them. */
export function jsonTree(value: unknown, path: string, onField: OnField, depth = 0): HTMLElement {
  if (value !== null && typeof value === 'object') {
    const isArray = Array.isArray(value);
    const entries = isArray ? (value as unknown[]).map((v, i) => [String(i), v] as const) : Object.entries(value as Record<string, unknown>);
    const details = h('details', { class: 'json', open: depth < 2 });
    details.append(h('summary', {}, isArray ? `[${entries.length}]` : `{${entries.length}}`));
    const list = h('ul');
    for (const [k, v] of entries) {
      const child = jsonTree(v, path ? `${path}.${k}` : k, onField, depth + 1);
      list.append(h('li', {}, h('span', { class: 'json-key' }, `${k}: `), child));
    }
    details.append(list);
    return details;
  }
  const b = fieldButton(path, value, onField);
  b.classList.add(`json-${value === null ? 'null' : typeof value}`);
  return b;
}

export function renderDetail(entry: Entry, utc: boolean, onField: OnField, onClose: () => void): HTMLElement {
  const level = String(entry.level).toLowerCase();
  const wrap = h('div', { class: 'detail-inner' });
  wrap.append(
    h(
      'div',
      { class: 'detail-head' },
      h('span', { class: `lvl lvl-${level}` }, String(entry.level)),
      h('span', { class: 'detail-time', title: entry.timestamp }, fullTime(entry.timestamp, utc)),
      h('button', { type: 'button', class: 'close', 'aria-label': 'Close detail', onclick: onClose }, '×'),
    ),
  );
  const msg = h('pre', { class: 'detail-msg' });
  appendMessage(msg, entry.message);
  wrap.append(h('button', { type: 'button', class: 'field-value msg-filter', 'data-field': 'message', onclick: () => onField('message', entry.message) }, 'Filter on this message'), msg);

  const table = h('table', { class: 'fields' });
  for (const f of TOP_FIELDS) {
    const v = entry[f];
    if (v === undefined) continue;
    table.append(h('tr', {}, h('th', {}, f), h('td', {}, fieldButton(f, v, onField))));
  }
  if (entry.tags?.length) {
    const td = h('td');
    for (const t of entry.tags) td.append(fieldButton('tags', t, onField), ' ');
    table.append(h('tr', {}, h('th', {}, 'tags'), td));
  }
  if (entry.flags !== undefined) table.append(h('tr', {}, h('th', {}, 'flags'), h('td', {}, JSON.stringify(entry.flags))));
  wrap.append(h('h3', {}, 'Fields'), table);

  if (entry.context && Object.keys(entry.context).length > 0) {
    wrap.append(h('h3', {}, 'Context'), h('div', { class: 'context' }, jsonTree(entry.context, '', onField)));
  }
  if (entry.metrics?.length) {
    const mt = h('table', { class: 'metrics' }, h('tr', {}, h('th', {}, 'metric'), h('th', {}, 'kind'), h('th', {}, 'value'), h('th', {}, 'unit'), h('th', {}, 'source')));
    for (const m of entry.metrics) {
      mt.append(
        h(
          'tr',
          {},
          h('td', {}, fieldButton('metric', m.name, onField)),
          h('td', {}, m.kind),
          h('td', { class: 'num' }, m.value === null ? (m.raw ?? '—') : String(m.value)),
          h('td', {}, m.unit ?? ''),
          h('td', {}, m.source ?? ''),
        ),
      );
    }
    wrap.append(h('h3', {}, 'Metrics'), mt);
  }
  if (entry.stack_trace) wrap.append(h('h3', {}, 'Stack trace'), h('pre', { class: 'stack' }, entry.stack_trace));
  const raw = h('details', { class: 'raw' }, h('summary', {}, 'JSON'), h('pre', {}, JSON.stringify(entry, null, 2)));
  wrap.append(raw);
  return wrap;
}
