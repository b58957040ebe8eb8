/** The seed 000 `HttpLogger(url, appId, apiKey)` shape, on DistributedLogger. */
import { DistributedLogger, type Level } from './logger.js';

export class HttpLogger {
  readonly logger: DistributedLogger;
  constructor(dashboardUrl: string, appId: string, apiKey?: string) {
    this.logger = new DistributedLogger({ endpoint: dashboardUrl, serviceName: appId, apiKey }).start();
  }

  log(level: string, message: string, context?: Record<string, unknown>, tags?: string[]): void {
    const l = level.toLowerCase();
    const lv: Level = l === 'warn' || l === 'warning' ? 'warning' : (['debug', 'info', 'error', 'fatal'].includes(l) ? l : 'info') as Level;
    this.logger.log(lv, message, tags ? { ...context, tags } : context);
  }

  flush(): Promise<void> {
    return this.logger.flush();
  }

  close(): Promise<void> {
    return this.logger.stop();
  }
}
