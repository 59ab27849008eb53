import { describe, expect, it } from 'vitest';
import { testApp } from './support/app.ts';

describe('health', () => {
  it('is alive and ready with every dependency up and migrations applied', async () => {
    const app = await testApp();
    expect((await app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({
      status: 'ready',
      checks: { database: 'ok', migrations: 'ok', kv: 'ok', events: 'ok' },
    });
    await app.close();
  });

  it('answers 503 problem+json naming the failed check when the database is gone', async () => {
    const app = await testApp();
    await app.services.db.close();
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json()).toMatchObject({
      code: 'SERVICE_NOT_READY',
      checks: { database: 'failed', migrations: 'failed', kv: 'ok', events: 'ok' },
    });
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    await app.close().catch(() => {});
  });
});
