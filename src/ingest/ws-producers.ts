/**
 * Producers connected to the WebSocket ingest (`GET /logs`), per app and User-Agent: what
 * `/health` and the `sluice_ws_producers` gauge show.
 */

/** One app's producers. */
export interface AppProducers {
  app_id: string;
  connections: number;
  /** Connections per User-Agent of the upgrade request (`(none)` when it had none). */
  user_agents: Record<string, number>;
}

/** What `/health` shows. */
export interface ProducerSummary {
  /** Open ingest WebSockets, authenticated or not. */
  connections: number;
  /** Of those, the ones that do not know their app yet (no auth, no entry). */
  unassigned: number;
  apps: AppProducers[];
}

/** The registry: one record per open ingest connection. */
export class ProducerRegistry {
  private readonly byConn = new Map<object, { app?: string; userAgent: string }>();

  add(conn: object, userAgent: string | undefined): void {
    this.byConn.set(conn, { userAgent: userAgent || '(none)' });
  }

  /** The app the connection writes (the auth's, or its latest entry's). */
  assign(conn: object, app: string): void {
    const rec = this.byConn.get(conn);
    if (rec) rec.app = app;
  }

  remove(conn: object): void {
    this.byConn.delete(conn);
  }

  get size(): number {
    return this.byConn.size;
  }

  /** Per app, sorted by app id; `onlyApp` keeps one app (a token holder sees its own). */
  summary(onlyApp?: string): ProducerSummary {
    const apps = new Map<string, AppProducers>();
    let unassigned = 0;
    for (const { app, userAgent } of this.byConn.values()) {
      if (app === undefined) {
        unassigned++;
        continue;
      }
      if (onlyApp !== undefined && app !== onlyApp) continue;
      let a = apps.get(app);
      if (!a) apps.set(app, (a = { app_id: app, connections: 0, user_agents: {} }));
      a.connections++;
      a.user_agents[userAgent] = (a.user_agents[userAgent] ?? 0) + 1;
    }
    return {
      connections: this.byConn.size,
      unassigned,
      apps: [...apps.values()].sort((x, y) => (x.app_id < y.app_id ? -1 : x.app_id > y.app_id ? 1 : 0)),
    };
  }
}
