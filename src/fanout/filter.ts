import type { TokenGrant } from '../apps/types.js';
import type { AppRegistry } from '../apps/types.js';
import { GatewayError } from '../errors.js';
import { canRead, readScope } from '../http/auth.js';
import type { Entry, Level } from '../normalize/entry.js';
import { parseLevelAlias } from '../normalize/level.js';
import { UNMETERED, type RegexBudget } from '../query/regex-budget.js';
import { compileFilter } from '../store/query.js';

/** What a live subscriber asked for (WebSocket `subscribe`, SSE query, Logplex session). */
export interface SubscriptionSpec {
  /** Apps to follow; empty = the token's app (admin, and a read token in demo mode: every app). */
  apps?: string[];
  /** Levels or aliases; one means that level and above, several mean exactly those. */
  levels?: string[];
  source?: string;
  /** Dyno prefix: `web` matches `web.1`. */
  proc?: string;
  /** Case-insensitive substring of the message. */
  search?: string;
  /** JavaScript regular expression on the message, in linear time (`compileRegex`). */
  regex?: string;
}

/** A subscription's filter, checked: the apps it may see and a predicate for entries. */
export interface CompiledSubscription {
  /** The apps followed, or null for every app (a token that reads every app, without a list). */
  apps: string[] | null;
  matches(entry: Entry): boolean;
  /**
   * Equal for subscriptions that select the same entries: the hub tests such a filter once per
   * entry for all of them. Absent: the subscription is grouped with no other.
   */
  key?: string;
  /**
   * The filter with its regex tests run through `budget` (query/regex-budget.ts); absent when it
   * has no regex. The hub reads history through one with a scan budget and delivers live entries
   * through one with a rate budget; `matches` itself counts nothing.
   */
  metered?(budget: RegexBudget): (entry: Entry) => boolean;
}

/**
 * Checks a subscription against the token and compiles its filter. Throws GatewayError with the
 * stable codes of the protocol: `forbidden` (an app the token may not read), `unknown_app`,
 * `invalid_level`, `invalid_regex`. `demo`: GatewayDeps.demo (src/http/auth.ts, readScope).
 */
export async function compileSubscription(
  spec: SubscriptionSpec,
  grant: TokenGrant,
  registry: AppRegistry,
  demo?: boolean,
): Promise<CompiledSubscription> {
  let apps: string[] | null;
  const requested = (spec.apps ?? []).filter((a) => typeof a === 'string' && a !== '');
  const scope = readScope(grant, demo);
  if (requested.length === 0) {
    apps = scope === null ? null : [scope];
  } else {
    for (const app of requested) {
      if (!canRead(grant, app, demo)) {
        throw new GatewayError('forbidden', 403, `this token may not read app ${app}`);
      }
    }
    apps = [...new Set(requested)];
    if (scope === null) {
      for (const app of apps) if (!(await registry.get(app))) throw new GatewayError('unknown_app', 404, `no app ${app}`);
    }
  }

  let minLevel: Level | undefined;
  let levels: Level[] | undefined;
  const levelNames = (spec.levels ?? []).filter(Boolean);
  if (levelNames.length > 0) {
    const parsed = levelNames.map((n) => {
      const l = typeof n === 'string' ? parseLevelAlias(n) : null;
      if (!l) throw new GatewayError('invalid_level', 400, `unknown level "${String(n)}"`);
      return l;
    });
    if (parsed.length === 1) minLevel = parsed[0];
    else levels = parsed;
  }

  // compileFilter compiles the regex: a bad one is refused here, when subscribing (invalid_regex).
  const base = compileFilter(
    {
      appIds: apps ?? undefined,
      minLevel,
      levels,
      source: spec.source || undefined,
      proc: spec.proc || undefined,
      search: spec.search || undefined,
      regex: spec.regex || undefined,
    },
    UNMETERED,
  );
  const key = JSON.stringify([
    apps === null ? null : [...apps].sort(),
    minLevel ?? null,
    levels === undefined ? null : [...new Set(levels)].sort(),
    spec.source || null,
    spec.proc || null,
    spec.search || null,
    spec.regex || null,
  ]);
  const metered = base.regex ? (budget: RegexBudget) => base.withBudget(budget) : undefined;
  return { apps, matches: base, key, ...(metered ? { metered } : {}) };
}
