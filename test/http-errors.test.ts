import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminHeaders, testApp } from './support/app.ts';

const PROBLEM = 'application/problem+json; charset=utf-8';

describe('errors are problem+json with a stable code', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    // The WAF in front would answer some of these first (it blocks prototype-pollution keys and
    // content types outside JSON/form/multipart/XML); monitor mode lets the layers behind it answer.
    app = await testApp({ BULWARK_BODY_LIMIT: '2048', BULWARK_WAF_MODE: 'monitor' });
  });
  afterAll(() => app.close());

  const expectProblem = (
    res: { statusCode: number; headers: Record<string, unknown>; json(): unknown },
    status: number,
    code: string,
  ) => {
    expect(res.statusCode).toBe(status);
    expect(res.headers['content-type']).toBe(PROBLEM);
    const body = res.json() as Record<string, unknown>;
    expect(body).toMatchObject({ status, code, type: `urn:bulwark:error:${code}` });
    expect(body.requestId).toBe(res.headers['x-request-id']);
    return body;
  };

  it('404 for an unknown route', async () => {
    expectProblem(await app.inject({ method: 'GET', url: '/nope' }), 404, 'ROUTE_NOT_FOUND');
  });

  it('400 for malformed JSON', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/admin/tenants',
      headers: { ...adminHeaders, 'content-type': 'application/json' },
      payload: '{"slug": "a",',
    });
    expectProblem(res, 400, 'REQUEST_MALFORMED_JSON');
  });

  it('400 for an empty JSON body', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/admin/tenants',
      headers: { ...adminHeaders, 'content-type': 'application/json' },
      payload: '',
    });
    expectProblem(res, 400, 'REQUEST_MALFORMED_JSON');
  });

  it('400 for __proto__ keys (prototype pollution)', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/admin/tenants',
      headers: { ...adminHeaders, 'content-type': 'application/json' },
      payload: '{"slug":"ok-slug","name":"x","__proto__":{"admin":true}}',
    });
    expectProblem(res, 400, 'REQUEST_FORBIDDEN_JSON_KEY');
  });

  it('415 for a body that is not JSON', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/admin/tenants',
      headers: { ...adminHeaders, 'content-type': 'text/plain' },
      payload: 'slug=a',
    });
    expectProblem(res, 415, 'REQUEST_UNSUPPORTED_MEDIA_TYPE');
  });

  it('413 for a body over the limit', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/admin/tenants',
      headers: adminHeaders,
      payload: { slug: 'big', name: 'x'.repeat(4096) },
    });
    expectProblem(res, 413, 'REQUEST_BODY_TOO_LARGE');
  });

  it('400 for an unknown property, naming it', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/admin/tenants',
      headers: adminHeaders,
      payload: { slug: 'acme', name: 'Acme', isAdmin: true },
    });
    const body = expectProblem(res, 400, 'REQUEST_VALIDATION_FAILED');
    expect(body.errors).toEqual([expect.objectContaining({ path: 'body/isAdmin' })]);
  });

  it('400 rather than coercion for a wrongly typed value', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/admin/tenants',
      headers: adminHeaders,
      payload: { slug: 'acme', name: 5 },
    });
    expectProblem(res, 400, 'REQUEST_VALIDATION_FAILED');
  });

  it('400 for a malformed path parameter', async () => {
    const res = await app.inject({ method: 'GET', url: '/admin/tenants/not-a-uuid', headers: adminHeaders });
    expectProblem(res, 400, 'REQUEST_VALIDATION_FAILED');
  });

  it('401 with WWW-Authenticate when credentials are missing or wrong', async () => {
    const missing = await app.inject({ method: 'GET', url: '/admin/tenants' });
    expectProblem(missing, 401, 'AUTH_REQUIRED');
    expect(missing.headers['www-authenticate']).toBe('Bearer');
    const wrong = await app.inject({
      method: 'GET',
      url: '/admin/tenants',
      headers: { authorization: 'Bearer nope-nope-nope' },
    });
    expectProblem(wrong, 401, 'AUTH_INVALID_CREDENTIALS');
    const malformed = await app.inject({
      method: 'GET',
      url: '/admin/tenants',
      headers: { authorization: 'Basic Zm9vOmJhcg==' },
    });
    expectProblem(malformed, 401, 'AUTH_INVALID_CREDENTIALS');
  });

  it('authenticates before it validates: no schema detail leaks to anonymous callers', async () => {
    const res = await app.inject({ method: 'POST', url: '/admin/tenants', payload: { bogus: true } });
    expectProblem(res, 401, 'AUTH_REQUIRED');
  });
});

describe('a crash in a handler', () => {
  it('is a generic 500 without stack, SQL or paths', async () => {
    const app = await testApp();
    // Pull the database out from under the handler: the driver throws an internal error.
    await app.services.db.close();
    const res = await app.inject({ method: 'GET', url: '/admin/tenants', headers: adminHeaders });
    expect(res.statusCode).toBe(500);
    expect(res.headers['content-type']).toBe(PROBLEM);
    const body = res.json();
    expect(body).toEqual({
      type: 'urn:bulwark:error:INTERNAL_ERROR',
      title: 'Internal error',
      status: 500,
      code: 'INTERNAL_ERROR',
      requestId: res.headers['x-request-id'],
    });
    expect(res.body).not.toMatch(/at |\.ts|select|pglite|node_modules/i);
    await app.close().catch(() => {});
  });
});

describe('request ids', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await testApp();
  });
  afterAll(() => app.close());

  it('keeps a well-formed inbound X-Request-Id', async () => {
    const res = await app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { 'x-request-id': 'abc-123-def-456' },
    });
    expect(res.headers['x-request-id']).toBe('abc-123-def-456');
  });

  it('replaces a malformed one (no log forging) with a fresh UUIDv7', async () => {
    const res = await app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { 'x-request-id': 'evil\nline injected' },
    });
    expect(res.headers['x-request-id']).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });
});

describe('security headers', () => {
  it('sets CSP, HSTS, nosniff, no-store and no framing on API responses', async () => {
    const app = await testApp();
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    expect(res.headers).toMatchObject({
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-store',
      'x-frame-options': 'DENY',
    });
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.headers['strict-transport-security']).toContain('max-age=63072000');
    await app.close();
  });
});
