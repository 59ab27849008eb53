import { createHmac, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCrypto, type SigningKeyRing } from '../platform/crypto/index.ts';
import { type Database, openDatabase } from '../platform/db/index.ts';
import {
  addMessageSignature,
  contentDigest,
  hmacHeader,
  SIGNATURE_HEADER,
  verifyHmacHeader,
  verifyMessageSignature,
  WEBHOOK_ID_HEADER,
  WEBHOOK_KEY_PURPOSE,
} from './signature.ts';

const body = JSON.stringify({
  id: '01900000-0000-7000-8000-000000000001',
  type: 'payment.settled',
  occurredAt: '2025-01-01T00:00:00.000Z',
  tenantId: '01900000-0000-7000-8000-000000000002',
  data: { partnerId: '01900000-0000-7000-8000-000000000003', paymentId: 'p1', amount: 1250 },
});
const flipOneByte = (s: string, at = 10) =>
  s.slice(0, at) + String.fromCharCode(s.charCodeAt(at) ^ 1) + s.slice(at + 1);

describe('HMAC signature (Bulwark-Signature)', () => {
  const secret = 'whsec_test-secret-0123456789';
  const t = 1_700_000_000;

  it('is HMAC-SHA256 over "<t>.<body>" with the secret string as key', () => {
    const header = hmacHeader([secret], t, body);
    const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
    expect(header).toBe(`t=${t},v1=${expected}`);
    expect(verifyHmacHeader(header, body, [secret], t + 10)).toBe('ok');
  });

  it('fails after a one-byte change of the body, the signature or the timestamp', () => {
    const header = hmacHeader([secret], t, body);
    expect(verifyHmacHeader(header, flipOneByte(body), [secret], t)).toBe('mismatch');
    const sig = header.split('v1=')[1]!;
    const badSig = header.replace(sig, (sig[0] === 'a' ? 'b' : 'a') + sig.slice(1));
    expect(verifyHmacHeader(badSig, body, [secret], t)).toBe('mismatch');
    expect(verifyHmacHeader(header.replace(`t=${t}`, `t=${t + 1}`), body, [secret], t)).toBe('mismatch');
    expect(verifyHmacHeader(header, body, ['whsec_other'], t)).toBe('mismatch');
  });

  it('refuses a timestamp outside the 5-minute tolerance, and malformed headers', () => {
    const header = hmacHeader([secret], t, body);
    expect(verifyHmacHeader(header, body, [secret], t + 301)).toBe('stale');
    expect(verifyHmacHeader(header, body, [secret], t - 301)).toBe('stale');
    expect(verifyHmacHeader('v1=abc', body, [secret], t)).toBe('malformed');
    expect(verifyHmacHeader(`t=${t}`, body, [secret], t)).toBe('malformed');
  });

  it('carries one v1 per live secret during a rotation: either secret verifies', () => {
    const header = hmacHeader(['whsec_new', 'whsec_old'], t, body);
    expect(header.match(/v1=/g)).toHaveLength(2);
    expect(verifyHmacHeader(header, body, ['whsec_old'], t)).toBe('ok');
    expect(verifyHmacHeader(header, body, ['whsec_new'], t)).toBe('ok');
  });
});

describe('RFC 9421 message signature with the platform key', () => {
  let db: Database;
  let ring: SigningKeyRing;
  const url = 'https://hooks.example.com/bulwark?x=1';
  let headers: Record<string, string>;
  const t = Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    db = await openDatabase({ dataDir: 'memory://' });
    await db.migrate();
    ring = createCrypto({ db, masterKeys: [randomBytes(32).toString('base64')] }).signing;
    await ring.ensureKeys(WEBHOOK_KEY_PURPOSE, 'EdDSA');
    headers = {
      'content-type': 'application/json',
      [WEBHOOK_ID_HEADER]: '01900000-0000-7000-8000-000000000001',
      [SIGNATURE_HEADER]: hmacHeader(['whsec_x'], t, body),
    };
    await addMessageSignature(ring, { method: 'POST', targetUri: url, headers, body }, t);
  });
  afterAll(() => db.close());

  const verify = (
    h: Record<string, string>,
    b: string,
    jwks: { keys: Record<string, unknown>[] },
    now = t,
    targetUri = url,
  ) => verifyMessageSignature({ method: 'POST', targetUri, headers: h }, b, jwks, now);

  it('adds Content-Digest (RFC 9530), Signature-Input and Signature, verifiable with the published JWKS', async () => {
    expect(headers['content-digest']).toBe(contentDigest(body));
    expect(headers['content-digest']).toMatch(/^sha-256=:[A-Za-z0-9+/]+=*:$/);
    expect(headers['signature-input']).toMatch(
      /^wh=\("@method" "@target-uri" "content-type" "content-digest" "bulwark-webhook-id" "bulwark-signature"\);created=\d+;keyid="[^"]+";alg="ed25519";tag="bulwark-webhook"$/,
    );
    const jwks = (await ring.publicJwks(WEBHOOK_KEY_PURPOSE)) as unknown as {
      keys: Record<string, unknown>[];
    };
    expect(jwks.keys[0]).not.toHaveProperty('d');
    expect(verify(headers, body, jwks)).toBe('ok');
  });

  it('fails after a one-byte change of the body, a covered header, the target or the signature', async () => {
    const jwks = (await ring.publicJwks(WEBHOOK_KEY_PURPOSE)) as unknown as {
      keys: Record<string, unknown>[];
    };
    expect(verify(headers, flipOneByte(body), jwks)).toBe('digest_mismatch');
    // Body and digest both changed: the signature over the digest catches it.
    const forged = flipOneByte(body);
    expect(verify({ ...headers, 'content-digest': contentDigest(forged) }, forged, jwks)).toBe(
      'bad_signature',
    );
    expect(
      verify({ ...headers, [WEBHOOK_ID_HEADER]: flipOneByte(headers[WEBHOOK_ID_HEADER]!, 3) }, body, jwks),
    ).toBe('bad_signature');
    expect(
      verify({ ...headers, [SIGNATURE_HEADER]: flipOneByte(headers[SIGNATURE_HEADER]!, 20) }, body, jwks),
    ).toBe('bad_signature');
    expect(verify(headers, body, jwks, t, 'https://hooks.example.com/bulwark?x=2')).toBe('bad_signature');
    const sig = headers.signature!;
    const raw = Buffer.from(sig.slice(4, -1), 'base64');
    raw[5] = (raw[5] ?? 0) ^ 1;
    expect(verify({ ...headers, signature: `wh=:${raw.toString('base64')}:` }, body, jwks)).toBe(
      'bad_signature',
    );
  });

  it('refuses an unknown key, a stale signature and a missing covered component', async () => {
    const jwks = (await ring.publicJwks(WEBHOOK_KEY_PURPOSE)) as unknown as {
      keys: Record<string, unknown>[];
    };
    expect(verify(headers, body, { keys: [] })).toBe('unknown_key');
    expect(verify(headers, body, jwks, t + 301)).toBe('stale');
    const fewer = headers['signature-input']!.replace(' "bulwark-signature"', '');
    expect(verify({ ...headers, 'signature-input': fewer }, body, jwks)).toBe('malformed');
  });
});
