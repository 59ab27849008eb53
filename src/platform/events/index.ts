import type { EventBus, EventLogger } from './bus.ts';
import { createMemoryBus } from './memory-bus.ts';
import { openNatsBus } from './nats-bus.ts';

export {
  type BusEvent,
  type EventBus,
  type EventHandler,
  type EventLogger,
  isBusEvent,
  isTopic,
  isTopicFilter,
  type SubscribeOptions,
  silentLogger,
  topicMatches,
  type Unsubscribe,
} from './bus.ts';
export { createMemoryBus, type MemoryBusOptions } from './memory-bus.ts';
export { type NatsBusOptions, openNatsBus } from './nats-bus.ts';
export { enqueue, type OutboxEvent, type PruneOptions, pruneOutbox } from './outbox.ts';
export { type Relay, type RelayOptions, startRelay } from './relay.ts';

export interface OpenBusOptions {
  /** From config `natsUrl`; unset means the in-process bus (embedded mode). */
  readonly natsUrl?: string | undefined;
  readonly stream: string;
  readonly subjectPrefix: string;
  readonly logger?: EventLogger;
}

/** NATS JetStream when a URL is configured, the in-process bus otherwise. */
export function openBus(opts: OpenBusOptions): Promise<EventBus> {
  if (opts.natsUrl) {
    return openNatsBus({
      url: opts.natsUrl,
      stream: opts.stream,
      subjectPrefix: opts.subjectPrefix,
      ...(opts.logger ? { logger: opts.logger } : {}),
    });
  }
  return Promise.resolve(createMemoryBus(opts.logger ? { logger: opts.logger } : {}));
}
