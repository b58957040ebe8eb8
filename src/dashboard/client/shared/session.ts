/**
 * Signing in and out: the token comes from the link's fragment (`#token=`, moved at once into the
 * tab's sessionStorage and out of the address bar) or from the sign-in form, and is checked with
 * `GET /api/apps`, whose answer is the list of apps it may read (the app picker).
 */
import { byId, h } from './dom.js';
import type { Page } from './page.js';

const TOKEN_KEY = 'sluice.token';

/** What the views do when the page signs in or out. */
export interface SessionEvents {
  /** Signed in: `page.token` and `page.apps` are set, the main view is shown. */
  signedIn(): void;
  /** Signed out (by the button, or because the gateway refused the token). */
  signedOut(): void;
}

export class Session {
  readonly el = {
    signin: byId('signin'),
    signinForm: byId<HTMLFormElement>('signin-form'),
    signinToken: byId<HTMLInputElement>('signin-token'),
    signinError: byId('signin-error'),
    main: byId('main'),
    app: byId<HTMLSelectElement>('app'),
    signout: byId<HTMLButtonElement>('signout'),
  };

  constructor(
    private readonly page: Page,
    private readonly on: SessionEvents,
  ) {
    this.el.signinForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this.signIn(this.el.signinToken.value.trim(), true);
    });
    this.el.signout.addEventListener('click', () => this.signOut());
  }

  /** Signs in with the fragment's token, else the tab's saved one, else shows the form. */
  async boot(): Promise<void> {
    const hash = new URLSearchParams(location.hash.slice(1));
    const fromHash = hash.get('token');
    if (fromHash) {
      sessionStorage.setItem(TOKEN_KEY, fromHash);
      // Out of the address bar (and the history), kept for this tab only.
      history.replaceState(history.state, '', location.pathname + location.search);
    }
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (!token) return this.showSignIn();
    await this.signIn(token, false);
  }

  showSignIn(error = ''): void {
    this.el.main.hidden = true;
    this.el.signin.hidden = false;
    this.el.signinError.textContent = error;
    this.el.signinToken.focus();
  }

  async signIn(token: string, fromForm: boolean): Promise<void> {
    if (token.startsWith('t.')) {
      return this.showSignIn('That is an ingest token: it can send logs but not read them. Use a read token (r.…) or the admin token.');
    }
    let res: Response;
    try {
      res = await fetch('/api/apps', { headers: { Authorization: `Bearer ${token}` } });
    } catch {
      return this.showSignIn('The gateway does not answer.');
    }
    if (res.status === 401 || res.status === 403) {
      sessionStorage.removeItem(TOKEN_KEY);
      return this.showSignIn(fromForm ? 'Unknown token.' : 'The saved token is no longer valid: sign in again.');
    }
    if (!res.ok) return this.showSignIn(`The gateway answered ${res.status}.`);
    const body = (await res.json()) as { apps: { id: string }[] };
    this.page.token = token;
    sessionStorage.setItem(TOKEN_KEY, token);
    this.page.apps = body.apps.map((a) => a.id).sort();
    this.el.signin.hidden = true;
    this.el.main.hidden = false;
    this.fillApps();
    this.on.signedIn();
  }

  /** Forgets the token (this tab) and shows the form, with `message` as its error line. */
  signOut(message = ''): void {
    sessionStorage.removeItem(TOKEN_KEY);
    this.page.token = '';
    this.on.signedOut();
    this.showSignIn(message);
  }

  /** The app picker: the token's apps ("All apps" first when there are several). */
  fillApps(): void {
    const { state, apps } = this.page;
    const sel = this.el.app;
    sel.replaceChildren();
    if (apps.length > 1) sel.append(h('option', { value: '' }, 'All apps'));
    for (const id of apps) sel.append(h('option', { value: id }, id));
    if (!apps.includes(state.app) && !(state.app === '' && apps.length > 1)) state.app = apps[0] ?? '';
    sel.value = state.app;
  }
}
