import { generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { backends } from '../../../test/support/kv-backends.ts';
import { AppError } from '../../platform/errors/index.ts';
import {
  contentDigest,
  type SignatureAlgorithm,
  signatureBase,
  signatureFields,
  signatureParams,
  signBase,
} from '../../platform/http/message-signatures.ts';
import { createSignatureVerifier, type SignedRequest } from './verify.ts';

const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);
const nowSec = Math.floor(T0 / 1000);
const URL_ = 'https://api.example.com/v1/collections?x=1';
const BODY = '{"mandateId":"m1","amount":"1050","currency":"EUR"}';

function keyPair(kind: 'ec' | 'ed25519' | 'rsa' | 'p384', kid: string) {
  const pair =
    kind === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : kind === 'p384'
        ? generateKeyPairSync('ec', { namedCurve: 'P-384' })
        : kind === 'ed25519'
          ? generateKeyPairSync('ed25519')
          : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...pair, jwk: { ...pair.publicKey.export({ format: 'jwk' }), kid } as Record<string, unknown> };
}

const ec = keyPair('ec', 'k-ec');
const ed = keyPair('ed25519', 'k-ed');
const rsa = keyPair('rsa', 'k-rsa');
const p384 = keyPair('p384', 'k-p384');
const client = { clientId: 'client-1', keys: [ec.jwk, ed.jwk, rsa.jwk, p384.jwk] };

interface Make {
  key?: KeyObject;
  alg?: SignatureAlgorithm;
  keyid?: string;
  algParam?: string;
  components?: string[];
  created?: number | undefined;
  expires?: number;
  nonce?: string | undefined;
  body?: string | undefined;
  method?: string;
}

/** A request signed as a partner would sign it; options break one thing at a time. */
function signed(o: Make = {}): SignedRequest & { headers: Record<string, string> } {
  const body = 'body' in o ? o.body : BODY;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (body !== undefined) headers['content-digest'] = contentDigest(body);
  const params = signatureParams(
    o.components ?? [
      '@method',
      '@target-uri',
      'content-type',
      ...(body !== undefined ? ['content-digest'] : []),
    ],
    {
      ...('created' in o ? (o.created === undefined ? {} : { created: o.created }) : { created: nowSec }),
      ...(o.expires !== undefined ? { expires: o.expires } : {}),
      keyid: o.keyid ?? 'k-ec',
      ...('nonce' in o
        ? o.nonce === undefined
          ? {}
          : { nonce: o.nonce }
        : { nonce: randomBytes(12).toString('hex') }),
    },
  );
  if (o.algParam)
    (params.params as Array<readonly [string, unknown]>).push(['alg', { type: 'string', value: o.algParam }]);
  const message = { method: o.method ?? 'POST', targetUri: URL_, headers };
  const sig = signBase(o.alg ?? 'ecdsa-p256-sha256', o.key ?? ec.privateKey, signatureBase(message, params));
  const fields = signatureFields('sig1', params, sig);
  headers['signature-input'] = fields.signatureInput;
  headers.signature = fields.signature;
  return { ...message, body: body === undefined ? undefined : Buffer.from(body) };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof AppError) return err.code;
    throw err;
  }
}

for (const backend of backends()) {
  describe(`request signature verification (${backend.name} nonce cache)`, () => {
    afterAll(() => backend.close());
    const verifier = async () => createSignatureVerifier({ kv: await backend.connect(), now: () => T0 });

    it('accepts a valid signature with each of the three algorithms', async () => {
      const v = await verifier();
      expect(await v.verify(signed(), client)).toMatchObject({ keyid: 'k-ec', alg: 'ecdsa-p256-sha256' });
      expect(
        await v.verify(signed({ key: ed.privateKey, alg: 'ed25519', keyid: 'k-ed' }), client),
      ).toMatchObject({
        alg: 'ed25519',
      });
      expect(
        await v.verify(
          signed({ key: rsa.privateKey, alg: 'rsa-pss-sha512', keyid: 'k-rsa', algParam: 'rsa-pss-sha512' }),
          client,
        ),
      ).toMatchObject({ alg: 'rsa-pss-sha512' });
      // @authority + @path + @query instead of @target-uri; a request without a body needs no digest.
      const split = signed({ components: ['@method', '@authority', '@path', '@query', 'content-digest'] });
      expect(await codeOf(v.verify(split, client))).toBe('ok');
      expect(
        await codeOf(v.verify(signed({ body: undefined, components: ['@method', '@target-uri'] }), client)),
      ).toBe('ok');
    });

    it('refuses each fault with its own code', async () => {
      const v = await verifier();
      const { signature: _s, 'signature-input': _i, ...unsigned } = signed().headers;
      expect(await codeOf(v.verify({ ...signed(), headers: unsigned }, client))).toBe('SIGNATURE_MISSING');
      const garbled = signed();
      garbled.headers['signature-input'] = 'sig1=("@method"';
      expect(await codeOf(v.verify(garbled, client))).toBe('SIGNATURE_MALFORMED');
      // Coverage: no digest with a body, no target, no nonce, no created.
      expect(await codeOf(v.verify(signed({ components: ['@method', '@target-uri'] }), client))).toBe(
        'SIGNATURE_COVERAGE_INSUFFICIENT',
      );
      expect(
        await codeOf(v.verify(signed({ components: ['@method', '@path', 'content-digest'] }), client)),
      ).toBe('SIGNATURE_COVERAGE_INSUFFICIENT');
      expect(await codeOf(v.verify(signed({ nonce: undefined }), client))).toBe(
        'SIGNATURE_COVERAGE_INSUFFICIENT',
      );
      expect(await codeOf(v.verify(signed({ nonce: 'short' }), client))).toBe(
        'SIGNATURE_COVERAGE_INSUFFICIENT',
      );
      expect(await codeOf(v.verify(signed({ created: undefined }), client))).toBe(
        'SIGNATURE_COVERAGE_INSUFFICIENT',
      );
      // Keys and algorithms.
      expect(await codeOf(v.verify(signed({ keyid: 'nobody' }), client))).toBe('SIGNATURE_KEY_UNKNOWN');
      expect(await codeOf(v.verify(signed(), { clientId: 'other', keys: [ed.jwk] }))).toBe(
        'SIGNATURE_KEY_UNKNOWN',
      );
      expect(await codeOf(v.verify(signed({ keyid: 'k-p384', key: p384.privateKey }), client))).toBe(
        'SIGNATURE_ALGORITHM_UNSUPPORTED',
      );
      expect(await codeOf(v.verify(signed({ algParam: 'hmac-sha256' }), client))).toBe(
        'SIGNATURE_ALGORITHM_UNSUPPORTED',
      );
      // The message cannot pick the algorithm: an EC key with alg="ed25519" does not verify.
      expect(await codeOf(v.verify(signed({ algParam: 'ed25519' }), client))).toBe('SIGNATURE_INVALID');
      // Freshness.
      expect(await codeOf(v.verify(signed({ created: nowSec - 301 }), client))).toBe('SIGNATURE_EXPIRED');
      expect(await codeOf(v.verify(signed({ created: nowSec + 31 }), client))).toBe('SIGNATURE_EXPIRED');
      expect(await codeOf(v.verify(signed({ expires: nowSec }), client))).toBe('SIGNATURE_EXPIRED');
      // Signed with another key than the one named; a covered header changed after signing.
      expect(await codeOf(v.verify(signed({ key: keyPair('ec', 'x').privateKey }), client))).toBe(
        'SIGNATURE_INVALID',
      );
      const retyped = signed();
      retyped.headers['content-type'] = 'text/plain';
      expect(await codeOf(v.verify(retyped, client))).toBe('SIGNATURE_INVALID');
      const otherMethod = { ...signed(), method: 'PUT' };
      expect(await codeOf(v.verify(otherMethod, client))).toBe('SIGNATURE_INVALID');
      // The body changed after signing (digest header left alone) / digest replaced too.
      const tampered = signed();
      expect(
        await codeOf(v.verify({ ...tampered, body: Buffer.from(BODY.replace('1050', '9050')) }, client)),
      ).toBe('CONTENT_DIGEST_MISMATCH');
      const redigested = signed();
      redigested.headers['content-digest'] = contentDigest(BODY.replace('1050', '9050'));
      expect(
        await codeOf(v.verify({ ...redigested, body: Buffer.from(BODY.replace('1050', '9050')) }, client)),
      ).toBe('SIGNATURE_INVALID');
    });

    it('accepts a nonce once, across instances sharing the store', async () => {
      const one = await verifier();
      const two = createSignatureVerifier({ kv: await backend.connect(), now: () => T0 });
      const request = signed();
      expect(await codeOf(one.verify(request, client))).toBe('ok');
      expect(await codeOf(one.verify(request, client))).toBe('SIGNATURE_REPLAYED');
      expect(await codeOf(two.verify(request, client))).toBe('SIGNATURE_REPLAYED');
      // Same nonce, new signature: still a replay. Another client's nonce space is its own.
      const nonce = randomBytes(12).toString('hex');
      expect(await codeOf(two.verify(signed({ nonce }), client))).toBe('ok');
      expect(await codeOf(one.verify(signed({ nonce }), client))).toBe('SIGNATURE_REPLAYED');
      expect(await codeOf(one.verify(signed({ nonce }), { ...client, clientId: 'client-2' }))).toBe('ok');
      // A refused signature does not spend its nonce.
      const fresh = randomBytes(12).toString('hex');
      expect(await codeOf(one.verify(signed({ nonce: fresh, keyid: 'nobody' }), client))).toBe(
        'SIGNATURE_KEY_UNKNOWN',
      );
      expect(await codeOf(one.verify(signed({ nonce: fresh }), client))).toBe('ok');
    });
  });
}
