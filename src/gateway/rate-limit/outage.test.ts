/**
 * What happens when Redis goes away after start-up: fail closed for sensitive classes, per-instance
 * limits elsewhere, one log line and one event per outage, and recovery when it is back. Uses a
 * throwaway redis-server of its own (so it can be stopped), when one is installed.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installProblemHandlers } from '../../platform/http/problems.ts';
import { createRedisKv, type Kv } from '../../platform/kv/index.ts';
import { installRateLimit } from './hooks.ts';
import { createRateLimiter, type DegradedEvent, type RateLimiter, type RecoveredEvent } from './limiter.ts';
import type { PolicyTable } from './policies.ts';

const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;

const TABLE: PolicyTable = {
  base: [{ name: 'ip', by: ['ip'], limit: 5, periodMs: 60_000, burst: 5 }],
  classes: {
    default: { limits: [], whenUnavailable: 'local' },
    login: { limits: [], whenUnavailable: 'fail-closed' },
    token: { limits: [], whenUnavailable: 'fail-closed' },
    payment: { limits: [], whenUnavailable: 'fail-closed' },
  },
  plans: { unlimited: null },
  defaultPlan: 'unlimited',
};

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  for (let i = 0; i < 100; i++) {
    try {
      const probe = await createRedisKv({
        url: `redis://127.0.0.1:${port}`,
        prefix: 'probe:',
        connectTimeoutMs: 200,
      });
      await probe.close();
      return child;
    } catch {
      await sleep(50);
    }
  }
  child.kill('SIGKILL');
  throw new Error('throwaway redis-server did not start');
}

async function stopRedis(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL'); // a crash, not a clean shutdown
  await exited;
}

describe.skipIf(!hasRedisServer)('rate limiting when Redis goes away', () => {
  let port: number;
  let server: ChildProcess | undefined;
  let kv: Kv;
  let limiter: RateLimiter;
  let app: FastifyInstance;
  const degraded: DegradedEvent[] = [];
  const recovered: RecoveredEvent[] = [];
  const logs: { level: string; msg: string }[] = [];

  beforeAll(async () => {
    port = await freePort();
    server = await startRedis(port);
    kv = await createRedisKv({ url: `redis://127.0.0.1:${port}`, prefix: 'outage:', connectTimeoutMs: 500 });
    limiter = createRateLimiter({
      kv,
      policies: TABLE,
      probeIntervalMs: 200,
      onDegraded: (e) => degraded.push(e),
      onRecovered: (e) => recovered.push(e),
      logger: {
        warn: (_obj, msg) => logs.push({ level: 'warn', msg }),
        info: (_obj, msg) => logs.push({ level: 'info', msg }),
      },
    });
    app = Fastify({ logger: false });
    installProblemHandlers(app);
    installRateLimit(app, limiter, { getPrincipal: () => undefined });
    app.get('/things', async () => ({ ok: true }));
    app.post('/login', { config: { rateLimit: { class: 'login' } } }, async () => ({ ok: true }));
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await limiter?.close();
    await kv?.close();
    await stopRedis(server);
  });

  const things = (remoteAddress: string) => app.inject({ method: 'GET', url: '/things', remoteAddress });
  const login = (remoteAddress: string) => app.inject({ method: 'POST', url: '/login', remoteAddress });

  it('uses Redis while it is there', async () => {
    expect((await things('192.0.2.1')).statusCode).toBe(200);
    expect((await login('192.0.2.1')).statusCode).toBe(200);
    expect(limiter.stats()).toMatchObject({ outages: 0, degraded: false });
  });

  it('fails closed for a sensitive class and falls back to local limits elsewhere', async () => {
    await stopRedis(server);

    const refused = await login('192.0.2.2');
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.json()).toMatchObject({ code: 'RATE_LIMIT_UNAVAILABLE', status: 503 });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);

    // Ordinary routes keep working, and are still limited — per instance — by the fallback store.
    const codes = [];
    for (let i = 0; i < 6; i++) codes.push((await things('192.0.2.3')).statusCode);
    expect(codes).toEqual([200, 200, 200, 200, 200, 429]);
    for (let i = 0; i < 20; i++) await login('192.0.2.4');

    // One event and one warning for the whole outage, not one per request.
    expect(degraded).toHaveLength(1);
    expect(logs.filter((l) => l.level === 'warn')).toHaveLength(1);
    const stats = limiter.stats();
    expect(stats).toMatchObject({ outages: 1, degraded: true });
    expect(stats.fallbackChecks).toBeGreaterThanOrEqual(6);
    expect(stats.failedClosedChecks).toBeGreaterThanOrEqual(21);
  });

  it('goes back to Redis when it returns, and says so once', async () => {
    server = await startRedis(port);
    // The client reconnects by itself (within ~2 s); the limiter probes it every 200 ms meanwhile.
    for (let i = 0; i < 100 && recovered.length === 0; i++) {
      await login('192.0.2.5');
      if (recovered.length === 0) await sleep(100);
    }
    expect(recovered).toHaveLength(1);
    expect(recovered[0]!.degradedChecks).toBeGreaterThan(0);
    expect(logs.filter((l) => l.level === 'info')).toHaveLength(1);
    expect(limiter.stats().degraded).toBe(false);
    expect((await login('192.0.2.6')).statusCode).toBe(200);
  });
});
