import type { Config } from '../config/index.ts';
import { type Crypto, createCrypto, type KeyScope } from './crypto/index.ts';
import { type Database, openDatabase } from './db/index.ts';
import { type EventBus, openBus, type Relay, startRelay } from './events/index.ts';
import { type Kv, openKv } from './kv/index.ts';
import type { Logger } from './log.ts';

/** Key-ring purposes rotated on schedule (a purpose without keys yet is left alone). */
// 'message' and 'encryption': response signatures and JWE decryption keys (src/gateway/signatures, jwe).
const KEY_PURPOSES = ['oauth', 'audit', 'webhook', 'message', 'encryption'] as const;
const KEY_MAINTENANCE_MS = 10 * 60_000;

/** The infrastructure every module shares: storage, key-value store, event bus and outbox relay. */
export interface Services {
  readonly db: Database;
  readonly kv: Kv;
  readonly bus: EventBus;
  readonly relay: Relay;
  /** Master keys, per-tenant envelope encryption, signing key ring. */
  readonly crypto: Crypto;
  close(): Promise<void>;
}

/**
 * Open what the configuration names: PostgreSQL / Redis / NATS when their URLs are set, the
 * embedded PGlite / memory / in-process defaults otherwise. Migrations run here, before anything
 * serves. If one service fails to open, those already open are closed again.
 */
export async function openServices(
  config: Config,
  logger: Logger,
  options: { migrate?: boolean } = {},
): Promise<Services> {
  const opened: { close(): Promise<void> }[] = [];
  const closeAll = async () => {
    for (const s of opened.reverse()) await s.close().catch((err) => logger.error({ err }, 'close failed'));
  };
  try {
    const db = await openDatabase({
      url: config.databaseUrl,
      dataDir: config.dataDir,
      poolSize: config.databasePoolSize,
    });
    opened.push(db);
    if (options.migrate !== false) {
      const { applied } = await db.migrate();
      if (applied.length) logger.info({ applied }, 'migrations applied');
    }
    const crypto = createCrypto({ db, masterKeys: config.masterKeys });
    const usage = await crypto.kekUsage();
    if (usage.missing.length) {
      logger.error(
        { missing: usage.missing },
        'data keys are wrapped by master keys that are not configured',
      );
    }
    const kv = await openKv({
      redisUrl: config.redisUrl,
      prefix: config.kvPrefix,
      onError: (err) => logger.warn({ err }, 'key-value store error'),
    });
    opened.push(kv);
    const bus = await openBus({
      natsUrl: config.natsUrl,
      stream: config.natsStream,
      subjectPrefix: config.natsSubjectPrefix,
      logger,
    });
    opened.push(bus);
    // Every instance must hear these (not durable): caches of shredded or rotated keys are dropped.
    await bus.subscribe('crypto.data_key.destroyed', async (e) => {
      if (e.tenantId) crypto.envelope.evict(e.tenantId, e.payload.scope as KeyScope);
    });
    await bus.subscribe('crypto.signing_key.*', async (e) =>
      crypto.signing.refresh(String(e.payload.purpose)),
    );
    const relay = startRelay({ db, bus, pollMs: config.outboxPollMs, logger });
    opened.push({ close: () => relay.stop() });
    // Signing-key rotation on schedule (promote a published key that is due, publish a successor
    // when the active one is old, drop retired private keys). Safe on every instance: the key
    // ring locks per purpose. Other instances reload through the crypto.signing_key.* events.
    const maintainKeys = async () => {
      for (const purpose of KEY_PURPOSES) {
        const changed = await crypto.signing.maintain(purpose).catch((err) => {
          logger.error({ err, purpose }, 'signing key maintenance failed');
          return undefined;
        });
        if (changed && (changed.promoted || changed.published || changed.pruned)) {
          logger.info({ purpose, ...changed }, 'signing keys maintained');
        }
      }
    };
    const keyTimer = setInterval(() => void maintainKeys(), KEY_MAINTENANCE_MS);
    keyTimer.unref();
    opened.push({ close: async () => clearInterval(keyTimer) });
    logger.info({ database: db.kind, kv: kv.kind, bus: bus.kind }, 'services open');
    return { db, kv, bus, relay, crypto, close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
