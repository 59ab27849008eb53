/**
 * The in-process verification worker: polls for submitted cases and runs their checks. Several
 * instances may run it at once (the claim uses SKIP LOCKED and leases). Tests call
 * `KycService.runPendingChecks()` directly instead, and turn the loop off (poll 0).
 */
import type { Logger } from '../platform/log.ts';
import type { KycService } from './service.ts';

export interface KycWorker {
  stop(): Promise<void>;
}

export function startKycWorker(options: { service: KycService; pollMs: number; logger: Logger }): KycWorker {
  const { service, pollMs, logger } = options;
  if (pollMs <= 0) return { stop: async () => {} };
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const tick = async () => {
    try {
      // Drain: keep going while full batches come back.
      while (!stopped && (await service.runPendingChecks({ limit: 20 })) >= 20);
    } catch (err) {
      logger.warn({ err }, 'kyc worker: run failed');
    }
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = tick().finally(schedule);
    }, pollMs);
    timer.unref();
  };
  schedule();
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
