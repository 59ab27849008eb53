import { connect } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminHeaders, testApp } from './support/app.ts';

function rawExchange(port: number, request: string, waitMs = 0): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let response = '';
    socket.on('data', (d) => {
      response += d;
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(response));
    socket.once('connect', () => {
      socket.write(request);
      if (waitMs) setTimeout(() => socket.destroyed || socket.end(), waitMs);
    });
  });
}

describe('hardened edges', () => {
  let app: FastifyInstance;
  let port: number;
  beforeAll(async () => {
    app = await testApp({
      BULWARK_CORS_ORIGINS: 'https://app.partner.example',
      BULWARK_JSON_MAX_DEPTH: '4',
      BULWARK_MAX_HEADERS: '20',
      BULWARK_HEADERS_TIMEOUT_MS: '1000',
      BULWARK_REQUEST_TIMEOUT_MS: '1500',
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as { port: number }).port;
  });
  afterAll(() => app.close());

  it('refuses TRACE and unknown methods with 405', async () => {
    for (const method of ['TRACE', 'PROPFIND', 'PATCHX']) {
      const res = await rawExchange(
        port,
        `${method} /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      );
      expect(res, method).toMatch(/^HTTP\/1\.1 (405|400)/);
      expect(res).toMatch(/"code":"(METHOD_NOT_ALLOWED|REQUEST_INVALID)"/);
    }
    // CONNECT never reaches a route: Node closes the socket, as no tunnel is offered.
    const connectRes = await rawExchange(
      port,
      'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n',
    );
    expect(connectRes).toBe('');
  });

  it('refuses too many headers with 431 instead of silently dropping them', async () => {
    const headers = Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`x-h${i}`, 'v']));
    const res = await app.inject({ method: 'GET', url: '/healthz', headers });
    expect(res.statusCode).toBe(431);
    expect(res.json().code).toBe('REQUEST_HEADERS_TOO_LARGE');
  });

  it('answers an oversized header block with 431 problem+json from the parser', async () => {
    const res = await rawExchange(
      port,
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    expect(res).toMatch(/^HTTP\/1\.1 431/);
    expect(res).toContain('application/problem+json');
    expect(res).toContain('"code":"REQUEST_HEADERS_TOO_LARGE"');
  });

  it('answers a malformed request line with 400 problem+json', async () => {
    const res = await rawExchange(port, 'GARBAGE\r\n\r\n');
    expect(res).toMatch(/^HTTP\/1\.1 400/);
    expect(res).toContain('"code":"REQUEST_INVALID"');
  });

  it('drops a client that sends its headers too slowly (slowloris)', async () => {
    const started = Date.now();
    const res = await rawExchange(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n', 8000);
    expect(Date.now() - started).toBeLessThan(7000);
    expect(res).toMatch(/^HTTP\/1\.1 408|^$/);
  });

  it('refuses JSON nested deeper than the limit, and duplicate keys', async () => {
    const deep = await app.inject({
      method: 'POST',
      url: '/admin/tenants',
      headers: { ...adminHeaders, 'content-type': 'application/json' },
      payload: '{"slug":"deep","name":"x","a":{"b":{"c":{"d":{}}}}}',
    });
    expect(deep.statusCode).toBe(400);
    expect(deep.json()).toMatchObject({ code: 'REQUEST_JSON_TOO_COMPLEX', detail: 'JSON depth limit is 4' });
    const dup = await app.inject({
      method: 'POST',
      url: '/admin/tenants',
      headers: { ...adminHeaders, 'content-type': 'application/json' },
      payload: '{"slug":"dup-key","name":"Benign","name":"<other>"}',
    });
    expect(dup.statusCode).toBe(400);
    expect(dup.json().code).toBe('REQUEST_DUPLICATE_JSON_KEY');
  });

  it('allows CORS only for configured origins', async () => {
    const ok = await app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { origin: 'https://app.partner.example' },
    });
    expect(ok.headers['access-control-allow-origin']).toBe('https://app.partner.example');
    expect(ok.headers.vary).toContain('Origin');
    const other = await app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { origin: 'https://evil.example' },
    });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    const preflight = await app.inject({
      method: 'OPTIONS',
      url: '/admin/tenants',
      headers: { origin: 'https://app.partner.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers['access-control-allow-methods']).toContain('POST');
    const foreign = await app.inject({
      method: 'OPTIONS',
      url: '/admin/tenants',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('sends no X-Powered-By', async () => {
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    expect(res.headers['x-powered-by']).toBeUndefined();
  });
});
