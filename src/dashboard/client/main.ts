/**
 * The Sluice dashboard's entry point: the shared page state, sign-in, and the views.
 *
 * - shared/: what every view uses (URL state, session and token, the JSON API, DOM helpers).
 * - logs/: the Logs view (live tail, filters, history, detail).
 */
import { LogsView } from './logs/view.js';
import { Page } from './shared/page.js';
import { Session } from './shared/session.js';

const page = new Page();
let session: Session | undefined;
const logs = new LogsView(page, {
  refused: (message) => session!.signOut(message),
  fillApps: () => session!.fillApps(),
});
session = new Session(page, {
  signedIn: () => logs.start(),
  signedOut: () => logs.stop(),
});
// Tests and `npm run bench:ui` read the Logs view's buffer and counters here.
(window as unknown as { __sluice: unknown }).__sluice = logs;
void session.boot();
