import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminHeaders, testApp } from '../support/app.ts';
import { freePort } from '../support/process.ts';

const dir = mkdtempSync(join(tmpdir(), 'bulwark-tls-'));
const file = (name: string) => join(dir, name);
const openssl = (command: string) => execFileSync('openssl', command.split(' '), { stdio: 'pipe' });
const ec = '-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes';

/** A CA, a server certificate for 127.0.0.1 and a partner client certificate issued by the CA. */
function makeCertificates() {
  openssl(`req -x509 ${ec} -days 2 -subj /CN=BulwarkTestCA -keyout ${file('ca.key')} -out ${file('ca.pem')}`);
  for (const [name, subject, ext] of [
    ['server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1'],
    ['client', '/CN=partner-backend', 'extendedKeyUsage=clientAuth'],
  ] as const) {
    openssl(`req ${ec} -subj ${subject} -keyout ${file(`${name}.key`)} -out ${file(`${name}.csr`)}`);
    writeFileSync(file(`${name}.ext`), `${ext}\n`);
    openssl(
      `x509 -req -in ${file(`${name}.csr`)} -CA ${file('ca.pem')} -CAkey ${file('ca.key')} -CAcreateserial -days 2 ` +
        `-extfile ${file(`${name}.ext`)} -out ${file(`${name}.pem`)}`,
    );
  }
}

function httpsCall(
  port: number,
  path: string,
  opts: { method?: string; body?: string; headers?: Record<string, string>; cert?: boolean },
) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: opts.method ?? 'GET',
        ca: readFileSync(file('ca.pem')),
        ...(opts.cert
          ? { cert: readFileSync(file('client.pem')), key: readFileSync(file('client.key')) }
          : {}),
        headers: {
          ...(opts.body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
          ...opts.headers,
        },
      },
      (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('HTTPS listener with mTLS (RFC 8705)', () => {
  let app: FastifyInstance;
  let port: number;
  let clientId: string;

  beforeAll(async () => {
    makeCertificates();
    port = await freePort();
    app = await testApp({
      BULWARK_PORT: String(port),
      BULWARK_PUBLIC_URL: `https://127.0.0.1:${port}`,
      BULWARK_TLS_CERT_FILE: file('server.pem'),
      BULWARK_TLS_KEY_FILE: file('server.key'),
      BULWARK_TLS_CLIENT_CA_FILE: file('ca.pem'),
    });
    await app.listen({ port, host: '127.0.0.1' });
    const post = (url: string, payload: object) =>
      app.inject({ method: 'POST', url, headers: adminHeaders, payload });
    const tenantId = (await post('/admin/tenants', { slug: 'mtls-ins', name: 'mTLS Insurer' })).json().id;
    const partnerId = (await post(`/admin/tenants/${tenantId}/partners`, { name: 'P' })).json().id;
    const created = await post(`/admin/tenants/${tenantId}/partners/${partnerId}/apps`, {
      name: 'mtls backend',
      authMethod: 'tls_client_auth',
      tlsSubjectDn: 'CN=partner-backend',
      scope: 'payments:read',
    });
    expect(created.statusCode, created.body).toBe(201);
    clientId = created.json().clientId;
  }, 60_000);
  afterAll(() => app?.close());

  it('refuses TLS older than 1.2', async () => {
    const outcome = await new Promise<string>((resolve) => {
      const socket = connect({
        host: '127.0.0.1',
        port,
        maxVersion: 'TLSv1.1',
        minVersion: 'TLSv1',
        rejectUnauthorized: false,
      });
      socket.once('secureConnect', () => resolve(`connected with ${socket.getProtocol()}`));
      socket.once('error', () => resolve('refused'));
    });
    expect(outcome).toBe('refused');
  });

  it('issues a certificate-bound token to a tls_client_auth client, usable only with that certificate', async () => {
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: clientId,
      scope: 'payments:read',
    }).toString();
    const token = await httpsCall(port, '/oauth/token', { method: 'POST', body, cert: true });
    expect(token.status, token.body).toBe(200);
    const { access_token, token_type } = JSON.parse(token.body) as {
      access_token: string;
      token_type: string;
    };
    expect(token_type).toBe('Bearer');
    const fingerprint = new (await import('node:crypto')).X509Certificate(readFileSync(file('client.pem')))
      .fingerprint256;
    const x5t = Buffer.from(fingerprint.replaceAll(':', ''), 'hex').toString('base64url');
    expect(decodeJwt(access_token).cnf).toEqual({ 'x5t#S256': x5t });

    const me = await httpsCall(port, '/v1/me', {
      headers: { authorization: `Bearer ${access_token}` },
      cert: true,
    });
    expect(me.status, me.body).toBe(200);
    expect(JSON.parse(me.body)).toMatchObject({ clientId, binding: 'mtls' });

    // the same token without the certificate is refused
    const stolen = await httpsCall(port, '/v1/me', { headers: { authorization: `Bearer ${access_token}` } });
    expect(stolen.status).toBe(401);
    expect(JSON.parse(stolen.body).code).toBe('AUTH_TOKEN_BINDING_MISMATCH');
  });

  it('refuses the token request without the client certificate', async () => {
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: clientId,
      scope: 'payments:read',
    }).toString();
    const res = await httpsCall(port, '/oauth/token', { method: 'POST', body });
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body).error).toBe('invalid_client');
  });
});
