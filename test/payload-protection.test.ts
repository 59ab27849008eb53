import { createPublicKey, randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { CompactEncrypt, compactDecrypt, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customers } from '../src/kyc/schema.ts';
import { rows } from '../src/platform/db/rows.ts';
import {
  algorithmOfKey,
  checkContentDigest,
  parseSignatures,
  signatureBase,
  verifyBase,
} from '../src/platform/http/message-signatures.ts';
import { uuidv7 } from '../src/platform/ids.ts';
import {
  type ApiCaller,
  type ApiResponse,
  type Listening,
  listeningApp,
  partnerApi,
  tenantWithPartner,
} from './support/api.ts';

// End-to-end payload protection through the real HTTP stack (issue 7): RFC 9421 signatures required
// on payment initiation, and JWE bodies and responses with the partner's registered keys.
const SCOPES = 'payments:read payments:write parties:read parties:write';
const today = () => new Date().toISOString().slice(0, 10);
const key = () => ({ 'idempotency-key': randomUUID() });

describe('payload protection over /v1', () => {
  let listening: Listening;
  let tenantId: string;
  let partner: ApiCaller;
  let encPrivate: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  let mandateId: string;
  const encKid = 'partner-enc-1';

  const paymentsCount = async () =>
    (
      await listening.app.services.db.asSystem((tx) =>
        rows<{ n: number }>(tx, sql`SELECT count(*)::int AS n FROM payments WHERE tenant_id = ${tenantId}`),
      )
    )[0]!.n;

  beforeAll(async () => {
    listening = await listeningApp({ BULWARK_PAYMENTS_WORKER_POLL_MS: '0' });
    let partnerId: string;
    ({ tenantId, partnerId } = await tenantWithPartner(listening.app, 'Sig'));
    // The partner's encryption key pair: its public half is registered with the app (use: enc).
    const enc = await generateKeyPair('ECDH-ES+A256KW', { extractable: true });
    encPrivate = enc.privateKey;
    const encJwk = { ...(await exportJWK(enc.publicKey)), kid: encKid, use: 'enc', alg: 'ECDH-ES+A256KW' };
    partner = await partnerApi(listening, { tenantId, partnerId, scope: SCOPES, extraKeys: [encJwk] });
    // A verified customer (KYC's own flow is tested in kyc-api.test.ts) and a mandate to collect on.
    const customerId = uuidv7();
    await listening.app.services.db.withTenant(tenantId, (tx) =>
      tx.insert(customers).values({
        id: customerId,
        tenantId,
        partnerId,
        ownerUserId: null,
        kind: 'person',
        environment: 'sandbox',
        dataEnc: 'fixture',
        kycStatus: 'approved',
        verifiedCaseId: uuidv7(),
        verifiedUntil: new Date(Date.now() + 365 * 86_400_000),
      }),
    );
    const mandate = await partner.call('POST', '/v1/mandates', {
      body: {
        customerId,
        debtorName: 'Erika Mustermann',
        debtorIban: 'DE89370400440532013000',
        reference: 'MANDATE-SIG-1',
        signedOn: '2024-05-01',
      },
    });
    expect(mandate.status).toBe(201);
    mandateId = mandate.body.id;
  }, 120_000);
  afterAll(() => listening?.app.close());

  const collection = () => ({ mandateId, amount: '1050', currency: 'EUR', dueDate: today() });

  it('refuses payment initiation without a valid signature, each fault with its own code, writing nothing', async () => {
    const before = await paymentsCount();
    const body = collection();
    const expectRefused = (res: ApiResponse, status: number, code: string) => {
      expect(res.body.code, JSON.stringify(res.body)).toBe(code);
      expect(res.status).toBe(status);
    };

    const unsigned = await partner.call('POST', '/v1/collections', { body, headers: key() });
    expectRefused(unsigned, 401, 'SIGNATURE_MISSING');
    expect(unsigned.headers.get('accept-signature')).toContain('"content-digest"');

    const badSignature = await partner.call('POST', '/v1/collections', {
      body,
      headers: key(),
      sign: {
        tamper: ({ headers, body: b }) => {
          const sig = Buffer.from(headers.get('signature')!.slice('sig1=:'.length, -1), 'base64');
          sig[10] = (sig[10] ?? 0) ^ 1;
          headers.set('signature', `sig1=:${sig.toString('base64')}:`);
          return b;
        },
      },
    });
    expectRefused(badSignature, 401, 'SIGNATURE_INVALID');

    const bodyChanged = await partner.call('POST', '/v1/collections', {
      body,
      headers: key(),
      sign: { tamper: ({ body: b }) => b?.replace('"1050"', '"9050"') },
    });
    expectRefused(bodyChanged, 400, 'CONTENT_DIGEST_MISMATCH');

    const stale = await partner.call('POST', '/v1/collections', {
      body,
      headers: key(),
      sign: { created: Math.floor(Date.now() / 1000) - 600 },
    });
    expectRefused(stale, 401, 'SIGNATURE_EXPIRED');

    const notCovered = await partner.call('POST', '/v1/collections', {
      body,
      headers: key(),
      sign: { components: ['@method', '@target-uri', 'content-type'] },
    });
    expectRefused(notCovered, 401, 'SIGNATURE_COVERAGE_INSUFFICIENT');

    // A valid signature passes: here over @authority + @path + @query instead of @target-uri.
    const otherTarget = await partner.call('POST', '/v1/collections', {
      body,
      headers: key(),
      sign: { components: ['@method', '@authority', '@path', '@query', 'content-type', 'content-digest'] },
    });
    expect(otherTarget.status).toBe(201);
    expect(await paymentsCount()).toBe(before + 1);

    const nonce = `nonce-${randomUUID()}`;
    const first = await partner.call('POST', '/v1/collections', {
      body: { ...body, amount: '1100' },
      headers: key(),
      sign: { nonce },
    });
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    const replayed = await partner.call('POST', '/v1/collections', {
      body: { ...body, amount: '1100' },
      headers: key(),
      sign: { nonce },
    });
    expectRefused(replayed, 401, 'SIGNATURE_REPLAYED');
    // Only the two valid ones wrote anything.
    expect(await paymentsCount()).toBe(before + 2);
  });

  it('signs the response when asked (Accept-Signature), verifiable with the published keys', async () => {
    const res = await partner.call('POST', '/v1/collections', {
      body: { ...collection(), amount: '1200' },
      headers: {
        ...key(),
        'accept-signature': 'resp=("@status" "content-digest" "idempotency-key-expires");nonce="n-123456789"',
      },
      sign: true,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const [entry] = parseSignatures(res.headers.get('signature-input')!, res.headers.get('signature')!);
    expect(entry).toMatchObject({ label: 'resp', nonce: 'n-123456789', tag: 'bulwark-response' });
    expect(entry!.covered).toEqual(
      expect.arrayContaining([
        '"@status"',
        '"content-digest"',
        '"@method";req',
        '"@target-uri";req',
        '"idempotency-key-expires"',
      ]),
    );
    const text = JSON.stringify(res.body);
    expect(checkContentDigest(res.headers.get('content-digest')!, Buffer.from(text))).toBe('ok');
    const jwks = (await (await fetch(`${listening.issuer}/.well-known/payload-keys.json`)).json()) as {
      keys: Record<string, string>[];
    };
    const jwk = jwks.keys.find((k) => k.kid === entry!.keyid)!;
    expect(jwk.use).toBe('sig');
    const publicKey = createPublicKey({ key: jwk, format: 'jwk' });
    const headers = Object.fromEntries(res.headers);
    const base = signatureBase(
      {
        status: res.status,
        headers,
        request: {
          method: 'POST',
          targetUri: `${listening.issuer}/v1/collections`,
          headers: {},
        },
      },
      entry!.params,
    );
    expect(verifyBase(algorithmOfKey(publicKey)!, publicKey, base, entry!.signature)).toBe(true);
    // Without Accept-Signature nothing is signed.
    const plain = await partner.call('GET', `/v1/payments/${res.body.id}`);
    expect(plain.headers.get('signature')).toBeNull();
  });

  it('round-trips JWE: a request encrypted by the partner, the answer encrypted to the partner', async () => {
    const jwks = (await (await fetch(`${listening.issuer}/.well-known/payload-keys.json`)).json()) as {
      keys: Record<string, string>[];
    };
    const platformKey = jwks.keys.find((k) => k.use === 'enc')!;
    expect(platformKey).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ECDH-ES+A256KW' });
    expect(platformKey).not.toHaveProperty('d');
    const encrypt = async (value: unknown, header: Record<string, unknown> = {}) =>
      new CompactEncrypt(new TextEncoder().encode(JSON.stringify(value)))
        .setProtectedHeader({
          alg: 'ECDH-ES+A256KW',
          enc: 'A256GCM',
          kid: platformKey.kid,
          cty: 'json',
          ...header,
        })
        .encrypt(await importJWK(platformKey as JWK, 'ECDH-ES+A256KW'));
    const decrypt = async (res: ApiResponse) => {
      expect(res.headers.get('content-type')).toMatch(/^application\/jose/);
      const { plaintext, protectedHeader } = await compactDecrypt(res.body as string, encPrivate);
      expect(protectedHeader).toMatchObject({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', kid: encKid });
      return JSON.parse(new TextDecoder().decode(plaintext));
    };
    const jose = { 'content-type': 'application/jose', accept: 'application/jose' };

    // Personal data (KYC customer): encrypted both ways.
    const person = {
      kind: 'person',
      name: { given: 'Erika', family: 'Mustermann' },
      dateOfBirth: '1964-08-12',
      email: 'erika@example.test',
      address: { line1: 'Heidestrasse 17', postalCode: '51147', city: 'Koeln', country: 'DE' },
    };
    const created = await partner.call('POST', '/v1/customers', {
      rawBody: await encrypt(person),
      headers: jose,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const customer = await decrypt(created);
    expect(customer).toMatchObject({ name: person.name, dateOfBirth: person.dateOfBirth });
    const read = await partner.call('GET', `/v1/customers/${customer.id}`, {
      headers: { accept: 'application/jose' },
    });
    expect(await decrypt(read)).toMatchObject({ id: customer.id, email: person.email });
    // Not asked for: plain JSON.
    expect((await partner.call('GET', `/v1/customers/${customer.id}`)).body.email).toBe(person.email);

    // A payment initiation: signed over the encrypted bytes as sent, then decrypted and validated.
    const paid = await partner.call('POST', '/v1/collections', {
      rawBody: await encrypt({ ...collection(), amount: '1300' }),
      headers: { ...jose, ...key() },
      sign: true,
    });
    expect(paid.status, JSON.stringify(paid.body)).toBe(201);
    expect(await decrypt(paid)).toMatchObject({ amount: '1300', mandateId, kind: 'collection' });

    // The decrypted payload meets the same validation as a plain one; refusals stay readable.
    const unknownField = await partner.call('POST', '/v1/customers', {
      rawBody: await encrypt({ ...person, isAdmin: true }),
      headers: jose,
    });
    expect(unknownField.status).toBe(400);
    expect(unknownField.body.code).toBe('REQUEST_VALIDATION_FAILED');
    const duplicate = await partner.call('POST', '/v1/customers', {
      rawBody: await new CompactEncrypt(new TextEncoder().encode('{"kind":"person","kind":"business"}'))
        .setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', kid: platformKey.kid })
        .encrypt(await importJWK(platformKey as JWK, 'ECDH-ES+A256KW')),
      headers: jose,
    });
    expect(duplicate.body.code).toBe('REQUEST_DUPLICATE_JSON_KEY');
    // The WAF, which saw only ciphertext on the way in, judges the plaintext too.
    const attack = await partner.call('POST', '/v1/customers', {
      rawBody: await encrypt({
        ...person,
        name: { given: "x' UNION SELECT password FROM users--", family: 'x' },
      }),
      headers: jose,
    });
    expect(attack.status).toBe(403);
    expect(attack.body.code).toBe('WAF_BLOCKED');
  });

  it('refuses JWE that is not what the route or the platform accepts, each with its own code', async () => {
    const jwks = (await (await fetch(`${listening.issuer}/.well-known/payload-keys.json`)).json()) as {
      keys: Record<string, string>[];
    };
    const platformKey = jwks.keys.find((k) => k.use === 'enc')!;
    const enc = (header: Record<string, unknown>, key: object = platformKey) =>
      importJWK(key as JWK, 'ECDH-ES+A256KW').then((k) =>
        new CompactEncrypt(new TextEncoder().encode('{"kind":"person"}'))
          .setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', kid: platformKey.kid, ...header })
          .encrypt(k),
      );
    const jose = { 'content-type': 'application/jose' };
    const code = async (path: string, rawBody: string, method = 'POST') =>
      (await partner.call(method, path, { rawBody, headers: jose })).body.code;

    // A route that did not opt in.
    expect(await code('/v1/mandates', await enc({}))).toBe('JWE_NOT_ACCEPTED');
    expect(await code('/v1/customers', 'not.a.jwe')).toBe('JWE_INVALID');
    expect(await code('/v1/customers', await enc({ enc: 'A128GCM' }))).toBe('JWE_ALGORITHM_UNSUPPORTED');
    expect(await code('/v1/customers', await enc({ kid: 'no-such-key' }))).toBe('JWE_INVALID');
    // Encrypted to a key that is not ours (same kid): does not decrypt.
    const stranger = await exportJWK(
      (await generateKeyPair('ECDH-ES+A256KW', { extractable: true })).publicKey,
    );
    expect(await code('/v1/customers', await enc({}, stranger))).toBe('JWE_INVALID');
    // One character of the ciphertext changed: the GCM tag fails.
    const good = await enc({});
    const parts = good.split('.');
    parts[3] = (parts[3]![0] === 'A' ? 'B' : 'A') + parts[3]!.slice(1);
    expect(await code('/v1/customers', parts.join('.'))).toBe('JWE_INVALID');

    // A client without an encryption key cannot ask for encrypted answers.
    const { tenantId: t2, partnerId: p2 } = await tenantWithPartner(listening.app, 'NoEnc');
    const plainApp = await partnerApi(listening, { tenantId: t2, partnerId: p2, scope: SCOPES });
    const asked = await plainApp.call('GET', `/v1/customers/${uuidv7()}`, {
      headers: { accept: 'application/jose' },
    });
    expect(asked.body.code).toBe('JWE_CLIENT_KEY_MISSING');
  });
});
