/**
 * Micro-benchmark of the crypto kernel: µs per operation of field encryption (warm key cache),
 * of the cache-miss path (DB read + unwrap), of blind indexes and of signatures, next to bare
 * AES-256-GCM as the floor. Embedded PGlite in memory; not part of the test suite.
 *
 *   npx tsx bench/crypto-micro.ts [iterations]
 */
import { createSecretKey, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { context, open, seal } from '../src/platform/crypto/aead.ts';
import { createCrypto, fieldAad } from '../src/platform/crypto/index.ts';
import { openDatabase } from '../src/platform/db/index.ts';
import { tenants } from '../src/platform/db/schema.ts';
import { uuidv7 } from '../src/platform/ids.ts';

const iterations = Number(process.argv[2] ?? 20_000);

async function measure(name: string, n: number, op: (i: number) => unknown): Promise<void> {
  for (let i = 0; i < Math.min(n, 500); i++) await op(i); // warm-up (JIT, caches)
  const start = performance.now();
  for (let i = 0; i < n; i++) await op(i);
  const us = ((performance.now() - start) * 1000) / n;
  console.log(`${name.padEnd(44)} ${us.toFixed(2).padStart(9)} µs/op  (${n} ops)`);
}

const db = await openDatabase({ dataDir: 'memory://' });
try {
  await db.migrate();
  const tenantId = uuidv7();
  await db.asSystem((tx) => tx.insert(tenants).values({ id: tenantId, slug: 'bench', name: 'Bench' }));
  const crypto = createCrypto({ db, masterKeys: [randomBytes(32).toString('base64')] });
  const { envelope, signing } = crypto;
  const aad = fieldAad('policyholders', 'name', uuidv7());
  const plaintext = 'Ada Lovelace, 10 Downing Street, FR7630006000011234567890189';
  console.log(`node ${process.version}, ${db.kind}, plaintext ${Buffer.byteLength(plaintext)} bytes\n`);

  const key = createSecretKey(randomBytes(32));
  const ctx = context('bench', aad);
  const raw = seal(key, Buffer.from(plaintext), ctx);
  await measure('bare AES-256-GCM seal', iterations, () => seal(key, Buffer.from(plaintext), ctx));
  await measure('bare AES-256-GCM open', iterations, () => open(key, raw, ctx));

  const sealed = await envelope.encryptField(tenantId, plaintext, { aad });
  await measure('encryptField (warm cache)', iterations, () =>
    envelope.encryptField(tenantId, plaintext, { aad }),
  );
  await measure('decryptField (warm cache)', iterations, () =>
    envelope.decryptField(tenantId, sealed, { aad }),
  );
  await measure('blindIndex (warm cache)', iterations, (i) =>
    envelope.blindIndex(tenantId, `user${i}@example.org`, 'email'),
  );

  const misses = Math.max(50, Math.floor(iterations / 50));
  await measure('decryptField (cache miss: DB read + unwrap)', misses, async () => {
    envelope.evict(tenantId);
    await envelope.decryptField(tenantId, sealed, { aad });
  });

  for (const alg of ['ES256', 'EdDSA', 'PS256'] as const) {
    const purpose = `bench-${alg.toLowerCase()}`;
    await signing.ensureKeys(purpose, alg);
    const sig = await signing.sign(purpose, plaintext);
    const n = Math.max(200, Math.floor(iterations / (alg === 'PS256' ? 40 : 10)));
    await measure(`sign ${alg}`, n, () => signing.sign(purpose, plaintext));
    await measure(`verify ${alg}`, n, () => signing.verify(purpose, plaintext, sig.signature, sig.kid));
  }
} finally {
  await db.close();
}
