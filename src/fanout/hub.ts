import type { Entry } from '../normalize/entry.js';
import { entryJson } from '../normalize/serialize.js';
import { GatewayError, storeUnavailable } from '../errors.js';
import { DEFAULT_FANOUT_REGEX_BUDGET_MS_PER_SEC, DEFAULT_QUERY_REGEX_BUDGET_MS, RateBudget, ScanBudget } from '../query/regex-budget.js';
import type { Store, Unsubscribe } from '../store/types.js';
import type { CompiledSubscription } from './filter.js';
import { Chunk, Subscriber, type Gap, type Sink, type SubscriberLimits } from './subscriber.js';

/** How long the hub keeps following the store after its last subscriber left. */
const IDLE_UNFOLLOW_MS = 30_000;

/** Entries fanned out per turn of the event loop. */
const DELIVER_CHUNK = 1000;

/** A live subscription asked for while the process shuts down: another process will answer. */
function shuttingDown(): GatewayError {
  return new GatewayError('shutting_down', 503, 'the gateway is shutting down; reconnect', { 'Retry-After': '1' });
}

/** Options of {@link Hub}. */
export interface HubOptions extends SubscriberLimits {
  /** Lines of history per app the store keeps (the most a subscriber can ask for). */
  historyPerApp: number;
  /** Every app id, for admin subscriptions to all apps that ask for history. */
  listApps: () => Promise<string[]>;
  /** How long reading a subscriber's history may scan once it tests a regex (`QUERY_REGEX_BUDGET_MS`, default 1000). */
  queryRegexBudgetMs?: number;
  /** Regex time a live subscription may take a second (`FANOUT_REGEX_BUDGET_MS_PER_SEC`, default 50). */
  regexBudgetMsPerSec?: number;
}

/** What to replay before live entries. */
export interface Backfill {
  /** Newest matching entries to send first (0 = none). */
  history?: number;
  /** Resume after this entry id instead of sending history. */
  sinceId?: string;
}

/**
 * The fan-out hub of one process: while it has subscribers it follows the store once (one
 * listener, whatever the number of subscribers; with Redis that is one firehose reader) and hands each new entry to the local
 * subscribers whose filter matches, serialising it once. Work happens after the ingest request
 * returned (entries are taken from an inbox on the next turn of the event loop), and a
 * subscriber's queue never waits on its socket: slow clients cannot slow ingest or each other.
 */
export class Hub {
  /** Subscribers grouped by filter (`CompiledSubscription.key`): each filter runs once per entry. */
  private readonly groups = new Map<string, Group>();
  private readonly groupOf = new Map<Subscriber, Group>();
  private readonly byApp = new Map<string, Set<Group>>();
  private readonly allApps = new Set<Group>();
  /** Groups whose filter has a regex, and so a budget that can run out. */
  private readonly metered = new Set<Group>();
  private anonymousKeys = 0;
  private readonly inbox: Entry[][] = [];
  /** Position in the first inbox batch (a large batch is delivered over several turns). */
  private inboxPos = 0;
  private scheduled = false;
  /** The store subscription, only while there are subscribers (plus a grace period). */
  private following: Unsubscribe | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly slowTimer: NodeJS.Timeout;
  /** Set by {@link Hub.close}: no new subscribers. */
  private closed = false;
  /** Entries sent to and dropped for subscribers already detached (for {@link Hub.totals}). */
  private retiredSent = 0;
  private retiredDropped = 0;

  constructor(
    private readonly store: Store,
    private readonly opts: HubOptions,
  ) {
    this.slowTimer = setInterval(() => this.checkSlow(), Math.max(50, Math.min(1000, opts.slowCloseMs / 4)));
    this.slowTimer.unref();
  }

  /** Subscribers attached now. */
  get size(): number {
    return this.groupOf.size;
  }

  /**
   * Attaches a subscriber: live entries start queueing at once, then its history (or resume) is
   * read and written first, then the queue. Resolves when the subscriber is live.
   */
  async attach(filter: CompiledSubscription, sink: Sink, backfill: Backfill): Promise<Subscriber> {
    // Following must be guaranteed before history is read: then every entry is either in the
    // history (stored before) or delivered live (stored after), and the seam has no hole.
    if (this.closed) throw shuttingDown();
    await this.follow();
    if (this.closed) throw shuttingDown();
    const sub = new Subscriber(filter, sink, this.opts);
    this.add(sub);
    try {
      const { entries, gap } = await this.backfill(filter, backfill);
      sub.startLive(entries, gap);
    } catch (err) {
      this.detach(sub);
      throw err;
    }
    return sub;
  }

  /** Removes a subscriber (closed connection, unsubscribe, replaced subscription). */
  detach(sub: Subscriber): void {
    sub.detach();
    const group = this.groupOf.get(sub);
    this.groupOf.delete(sub);
    if (group) {
      this.retiredSent += sub.sent;
      this.retiredDropped += sub.droppedTotal;
      group.subs.delete(sub);
      if (group.subs.size === 0) this.removeGroup(group);
    }
    if (this.size === 0 && this.following && !this.idleTimer) {
      // Without subscribers the process stops reading the firehose (an ingest-heavy process
      // would otherwise parse every batch for nobody); a grace period absorbs reconnects.
      this.idleTimer = setTimeout(() => {
        this.idleTimer = undefined;
        if (this.size === 0) this.unfollow();
      }, IDLE_UNFOLLOW_MS);
      this.idleTimer.unref();
    }
  }

  /** Subscribes to the store (once) and waits until delivery is guaranteed. */
  private async follow(): Promise<void> {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (!this.following) {
      this.following = this.store.subscribe((entries) => {
        this.inbox.push(entries);
        this.schedule();
      });
    }
    const following = this.following;
    try {
      await following.ready;
    } catch (err) {
      if (this.following === following) this.unfollow();
      throw err instanceof Error && 'code' in err ? err : storeUnavailable(String(err));
    }
  }

  private unfollow(): void {
    this.following?.();
    this.following = undefined;
  }

  /** Counts for `stats` and `/health`. */
  stats(): { subscribed: number; queued: number; sent: number; dropped: number } {
    let queued = 0;
    let sent = 0;
    let dropped = 0;
    for (const s of this.groupOf.keys()) {
      queued += s.queued;
      sent += s.sent;
      dropped += s.droppedTotal;
    }
    return { subscribed: this.size, queued, sent, dropped };
  }

  /**
   * Entries sent and dropped since the hub was made, including subscribers gone since: counts
   * that only grow, for `/metrics` (`stats()` sums the subscribers attached now).
   */
  totals(): { sent: number; dropped: number } {
    let sent = this.retiredSent;
    let dropped = this.retiredDropped;
    for (const s of this.groupOf.keys()) {
      sent += s.sent;
      dropped += s.droppedTotal;
    }
    return { sent, dropped };
  }

  /**
   * Shuts the hub down: closes every subscriber's transport with `code` (1001 "going away" by
   * default: WebSockets get that close code, SSE and session responses end), stops following
   * the store, and refuses later attaches with 503 `shutting_down`. Clients resume elsewhere
   * (`since_id`, `Last-Event-ID`).
   */
  close(code = 1001, reason = 'going away'): void {
    this.closed = true;
    for (const sub of [...this.groupOf.keys()]) {
      sub.close(code, reason);
      this.detach(sub);
    }
    this.unfollow();
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    clearInterval(this.slowTimer);
  }

  private add(sub: Subscriber): void {
    const key = sub.filter.key ?? `#${++this.anonymousKeys}`;
    let group = this.groups.get(key);
    if (!group) {
      // One budget per group: its filter runs once per entry for all its members.
      const budget = sub.filter.metered ? new RateBudget(this.opts.regexBudgetMsPerSec ?? DEFAULT_FANOUT_REGEX_BUDGET_MS_PER_SEC) : undefined;
      group = new Group(key, sub.filter, budget);
      this.groups.set(key, group);
      if (budget) this.metered.add(group);
      if (sub.filter.apps === null) this.allApps.add(group);
      else {
        for (const app of sub.filter.apps) {
          let set = this.byApp.get(app);
          if (!set) this.byApp.set(app, (set = new Set()));
          set.add(group);
        }
      }
    }
    group.subs.add(sub);
    this.groupOf.set(sub, group);
  }

  private removeGroup(group: Group): void {
    this.groups.delete(group.key);
    this.metered.delete(group);
    if (group.filter.apps === null) this.allApps.delete(group);
    else {
      for (const app of group.filter.apps) {
        const set = this.byApp.get(app);
        set?.delete(group);
        if (set?.size === 0) this.byApp.delete(app);
      }
    }
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.deliver());
  }

  /**
   * Delivers up to DELIVER_CHUNK entries, flushes, and yields to the event loop before the rest:
   * sockets drain between turns, so a reader that keeps up gets a burst larger than its queue
   * whole, and timers and ingest keep running while a big batch fans out.
   */
  private deliver(): void {
    this.scheduled = false;
    const touched: Group[] = [];
    // The entries of this turn: the subscribers that get the same ones share their frames.
    const chunk = new Chunk();
    let budget = DELIVER_CHUNK;
    while (budget > 0 && this.inbox.length > 0) {
      const batch = this.inbox[0]!;
      const end = Math.min(batch.length, this.inboxPos + budget);
      for (let i = this.inboxPos; i < end; i++) {
        const entry = batch[i]!;
        const forApp = this.byApp.get(entry.app_id);
        if (forApp === undefined && this.allApps.size === 0) continue;
        // Serialised once for every subscriber, when the first one matches; an entry that
        // cannot be serialised (null, counted) is skipped for all of them, never thrown.
        let json: string | null | undefined;
        if (forApp !== undefined) {
          for (const g of forApp) {
            if (!g.matches(entry)) continue;
            if ((json ??= entryJson(entry)) === null) break;
            if (g.entries.length === 0) touched.push(g);
            g.entries.push(entry);
            g.jsons.push(json);
          }
        }
        if (json === null) continue;
        for (const g of this.allApps) {
          if (!g.matches(entry)) continue;
          if ((json ??= entryJson(entry)) === null) break;
          if (g.entries.length === 0) touched.push(g);
          g.entries.push(entry);
          g.jsons.push(json);
        }
      }
      budget -= end - this.inboxPos;
      if (end === batch.length) {
        this.inbox.shift();
        this.inboxPos = 0;
      } else {
        this.inboxPos = end;
      }
    }
    for (const g of touched) {
      const { jsons, entries } = g;
      g.jsons = [];
      g.entries = [];
      for (const sub of g.subs) sub.offerAll(jsons, entries, chunk);
    }
    // A filter over its regex budget matched nothing more this turn; its subscribers end here.
    for (const g of this.metered) if (g.budget!.exceeded) this.endGroup(g, g.budget!.error());
    if (this.inbox.length > 0) this.schedule();
  }

  /** Ends every subscriber of a group with `err` (Sink.fail: a WebSocket stays open), and detaches them. */
  private endGroup(group: Group, err: GatewayError): void {
    for (const sub of [...group.subs]) {
      sub.fail(err.code, err.message);
      this.detach(sub);
    }
  }

  private checkSlow(): void {
    for (const sub of [...this.groupOf.keys()]) if (sub.checkSlow()) this.detach(sub);
  }

  /** Reads what a subscriber gets before live entries: its history, or what followed `sinceId`. */
  private async backfill(filter: CompiledSubscription, backfill: Backfill): Promise<{ entries: Entry[]; gap?: Gap }> {
    const { sinceId } = backfill;
    const history = Math.min(backfill.history ?? 0, this.opts.historyPerApp);
    if (!sinceId && history <= 0) return { entries: [] };
    const apps = filter.apps ?? (await this.opts.listApps());
    const perApp = await Promise.all(apps.map((app) => this.store.recent(app, this.opts.historyPerApp)));
    // A regex scan of the history is a history read: its budget throws regex_budget_exceeded.
    const matches =
      filter.metered?.(new ScanBudget(this.opts.queryRegexBudgetMs ?? DEFAULT_QUERY_REGEX_BUDGET_MS)) ?? ((e: Entry) => filter.matches(e));

    if (sinceId) {
      // Resume: in the app that holds the entry, everything stored after it (append order);
      // in the other apps, entries with a greater id (ULIDs sort by time of acceptance).
      let found = false;
      const out: Entry[] = [];
      for (const list of perApp) {
        const at = list.findIndex((e) => e.id === sinceId);
        if (at >= 0) found = true;
        const after = at >= 0 ? list.slice(at + 1) : list.filter((e) => e.id > sinceId);
        for (const e of after) if (matches(e)) out.push(e);
      }
      if (perApp.length > 1) out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      // The resume point is gone from history (trimmed): say so; how many fell out is unknown.
      return found ? { entries: out } : { entries: out, gap: { since_id: sinceId, recovered: false } };
    }

    const matching: Entry[] = [];
    for (const list of perApp) for (const e of list) if (matches(e)) matching.push(e);
    if (perApp.length > 1) matching.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { entries: matching.slice(Math.max(0, matching.length - history)) };
  }
}

/** Subscribers with one filter, and the entries of the current turn that it matched. */
class Group {
  readonly subs = new Set<Subscriber>();
  jsons: string[] = [];
  entries: Entry[] = [];
  /** The filter live entries go through: its regex tests counted against `budget`. */
  readonly matches: (entry: Entry) => boolean;

  constructor(
    readonly key: string,
    readonly filter: CompiledSubscription,
    readonly budget?: RateBudget,
  ) {
    this.matches = budget && filter.metered ? filter.metered(budget) : (e) => filter.matches(e);
  }
}
