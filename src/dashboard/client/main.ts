/**
 * The Sluice dashboard's entry point.
 *
 * - shell.ts: the header's shared controls, which view is shown, Back/Forward.
 * - shared/: what every view uses (URL state, time range, session and token, JSON API, DOM).
 * - logs/: the Logs view (live tail, filters, history, detail).
 * - metrics/: the Metrics view (uPlot charts over the time range, live over /ws).
 * - sources/: the Sources panel beside the charts.
 */
import { Shell } from './shell.js';

const shell = new Shell();
// Tests and `npm run bench:ui` read the Logs view's buffer and counters here.
(window as unknown as { __sluice: unknown }).__sluice = shell.logs;
void shell.boot();
