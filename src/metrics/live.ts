/**
 * Live metrics on the `/ws` socket (protocol/README.md, "Live metrics"): after
 * `{"type":"subscribe_metrics","app_id","series":[{"name","source"?}],"step"}` the socket gets
 * `{"type":"metrics",…}` every METRICS_LIVE_INTERVAL_MS with the open bucket of each series and
 * the one before it (the one before may still be filling from late lines or other processes).
 */
import type { TokenGrant } from '../apps/types.js';
import { GatewayError } from '../errors.js';
import { canRead, readScope } from '../http/auth.js';
import type { Step } from './backend.js';
import type { MetricsService } from './service.js';

export interface LiveMetricsSpec {
  appId: string;
  series: { name: string; source?: string }[];
  step: Step;
}

const MAX_NAME = 200;

/** A `subscribe_metrics` message → what to send, or a GatewayError to answer with. */
export function parseMetricsSubscription(msg: Record<string, unknown>, grant: TokenGrant, demo: boolean | undefined, maxSeries: number): LiveMetricsSpec {
  const requested = typeof msg.app_id === 'string' && msg.app_id !== '' ? msg.app_id : undefined;
  const appId = requested ?? readScope(grant, demo);
  if (appId === null) throw new GatewayError('invalid_message', 400, 'subscribe_metrics needs an app_id with this token');
  if (!canRead(grant, appId, demo)) throw new GatewayError('forbidden', 403, `this token may not read app ${appId}`);
  if (!Array.isArray(msg.series) || msg.series.length === 0) {
    throw new GatewayError('invalid_message', 400, 'subscribe_metrics needs "series": [{ "name", "source"? }, …]');
  }
  if (msg.series.length > maxSeries) throw new GatewayError('invalid_message', 400, `at most ${maxSeries} series per subscription (METRICS_LIVE_MAX_SERIES)`);
  const series = msg.series.map((s: unknown) => {
    const o = (s ?? {}) as { name?: unknown; source?: unknown };
    if (typeof o.name !== 'string' || o.name === '' || o.name.length > MAX_NAME) throw new GatewayError('invalid_message', 400, 'each series needs a "name" (1-200 characters)');
    if (o.source !== undefined && o.source !== null && typeof o.source !== 'string') throw new GatewayError('invalid_message', 400, '"source" is a string');
    return typeof o.source === 'string' ? { name: o.name, source: o.source } : { name: o.name };
  });
  const step = msg.step === undefined ? 10 : msg.step;
  if (step !== 10 && step !== 60) throw new GatewayError('invalid_message', 400, '"step" is 10 or 60');
  return { appId, series, step };
}

/** Sends the subscription's updates until stopped; skips a tick while the socket is backed up. */
export function startLiveMetrics(
  service: MetricsService,
  spec: LiveMetricsSpec,
  send: (json: string) => void,
  backedUp: () => boolean,
): () => void {
  let stopped = false;
  let busy = false;
  const tick = async () => {
    if (stopped || busy || backedUp()) return;
    busy = true;
    try {
      const nowSec = Math.floor(Date.now() / 1000);
      const open = nowSec - (nowSec % spec.step);
      const series = await Promise.all(
        spec.series.map(async ({ name, source }) => {
          const r = await service.backend.read(spec.appId, name, source, open - spec.step, nowSec, spec.step);
          const points = r.points ?? (r.pointsJson ?? []).map((j) => JSON.parse(j) as unknown);
          return { name, source: source ?? null, kind: r.kind, ...(r.unit !== undefined ? { unit: r.unit } : {}), points };
        }),
      );
      if (!stopped) send(JSON.stringify({ type: 'metrics', app_id: spec.appId, step: spec.step, series }));
    } catch {
      // A store hiccup (Redis away): the next tick tries again.
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tick(), service.config.liveIntervalMs);
  timer.unref();
  void tick();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
