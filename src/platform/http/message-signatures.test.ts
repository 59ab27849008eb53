import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  algorithmOfKey,
  ComponentError,
  checkContentDigest,
  contentDigest,
  type HttpMessage,
  parseSignatures,
  signatureBase,
  signatureFields,
  signatureParams,
  signBase,
  verifyBase,
} from './message-signatures.ts';
import { parseDictionary, StructuredFieldError } from './structured-fields.ts';

// RFC 9421 Appendix B.1: the published test keys (public halves, and the deterministic Ed25519 one).
const RSA_PSS_PUBLIC = createPublicKey(
  [
    '-----BEGIN PUBLIC KEY-----',
    'MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAr4tmm3r20Wd/PbqvP1s2',
    '+QEtvpuRaV8Yq40gjUR8y2Rjxa6dpG2GXHbPfvMs8ct+Lh1GH45x28Rw3Ry53mm+',
    'oAXjyQ86OnDkZ5N8lYbggD4O3w6M6pAvLkhk95AndTrifbIFPNU8PPMO7OyrFAHq',
    'gDsznjPFmTOtCEcN2Z1FpWgchwuYLPL+Wokqltd11nqqzi+bJ9cvSKADYdUAAN5W',
    'Utzdpiy6LbTgSxP7ociU4Tn0g5I6aDZJ7A8Lzo0KSyZYoA485mqcO0GVAdVw9lq4',
    'aOT9v6d+nb4bnNkQVklLQ3fVAvJm+xdDOp9LCNCN48V2pnDOkFV6+U9nV5oyc6XI',
    '2wIDAQAB',
    '-----END PUBLIC KEY-----',
  ].join('\n'),
);
const ECC_P256_PUBLIC = createPublicKey(
  [
    '-----BEGIN PUBLIC KEY-----',
    'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqIVYZVLCrPZHGHjP17CTW0/+D9Lf',
    'w0EkjqF7xB4FivAxzic30tMM4GF+hR6Dxh71Z50VGGdldkkDXZCnTNnoXQ==',
    '-----END PUBLIC KEY-----',
  ].join('\n'),
);
const ED25519_PRIVATE = createPrivateKey(
  [
    '-----BEGIN PRIVATE KEY-----',
    'MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF',
    '-----END PRIVATE KEY-----',
  ].join('\n'),
);
const ED25519_PUBLIC = createPublicKey(ED25519_PRIVATE);

// Appendix B.2: the test request and response.
const BODY = '{"hello": "world"}';
const REQUEST_DIGEST =
  'sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:';
const RESPONSE_DIGEST =
  'sha-512=:mEWXIS7MaLRuGgxOBdODa3xqM1XdEvxoYhvlCFJ41QJgJc4GTsPp29l5oGX69wWdXymyU0rjJuahq4l5aGgfLQ==:';
const request = (extra: Record<string, string> = {}): HttpMessage => ({
  method: 'POST',
  targetUri: 'https://example.com/foo?param=Value&Pet=dog',
  headers: {
    host: 'example.com',
    date: 'Tue, 20 Apr 2021 02:07:55 GMT',
    'content-type': 'application/json',
    'content-digest': REQUEST_DIGEST,
    'content-length': '18',
    ...extra,
  },
});
const response = (extra: Record<string, string> = {}): HttpMessage => ({
  status: 200,
  headers: {
    date: 'Tue, 20 Apr 2021 02:07:56 GMT',
    'content-type': 'application/json',
    'content-digest': RESPONSE_DIGEST,
    'content-length': '23',
    ...extra,
  },
});

/** Parses the message's signature `label` and rebuilds its base. */
function base(message: HttpMessage, input: string, signature: string, label: string) {
  const entry = parseSignatures(input, signature).find((e) => e.label === label);
  if (!entry) throw new Error(`no ${label}`);
  return { entry, base: signatureBase(message, entry.params) };
}

describe('RFC 9421 Appendix B.2 test vectors', () => {
  it('B.2.1 minimal signature: the base is the published one and the RSA-PSS signature verifies', () => {
    const { entry, base: b } = base(
      request(),
      'sig-b21=();created=1618884473;keyid="test-key-rsa-pss";nonce="b3k2pp5k7z-50gnwp.yemd"',
      'sig-b21=:d2pmTvmbncD3xQm8E9ZV2828BjQWGgiwAaw5bAkgibUopemLJcWDy/lkbbHAve4cRAtx31Iq786U7it++wgGxbtRxf8Udx7zFZsckzXaJMkA7ChG52eSkFxykJeNqsrWH5S+oxNFlD4dzVuwe8DhTSja8xxbR/Z2cOGdCbzR72rgFWhzx2VjBqJzsPLMIQKhO4DGezXehhWwE56YCE+O6c0mKZsfxVrogUvA4HELjVKWmAvtl6UnCh8jYzuVG5WSb/QEVPnP5TmcAnLH1g+s++v6d4s8m0gCw1fV5/SITLq9mhho8K3+7EPYTU8IU1bLhdxO5Nyt8C8ssinQ98Xw9Q==:',
      'sig-b21',
    );
    expect(b).toBe(
      '"@signature-params": ();created=1618884473;keyid="test-key-rsa-pss";nonce="b3k2pp5k7z-50gnwp.yemd"',
    );
    expect(entry).toMatchObject({
      created: 1618884473,
      keyid: 'test-key-rsa-pss',
      nonce: 'b3k2pp5k7z-50gnwp.yemd',
    });
    expect(verifyBase('rsa-pss-sha512', RSA_PSS_PUBLIC, b, entry.signature)).toBe(true);
  });

  it('B.2.2 selective components (@query-param, tag)', () => {
    const { entry, base: b } = base(
      request(),
      'sig-b22=("@authority" "content-digest" "@query-param";name="Pet");created=1618884473;keyid="test-key-rsa-pss";tag="header-example"',
      'sig-b22=:LjbtqUbfmvjj5C5kr1Ugj4PmLYvx9wVjZvD9GsTT4F7GrcQEdJzgI9qHxICagShLRiLMlAJjtq6N4CDfKtjvuJyE5qH7KT8UCMkSowOB4+ECxCmT8rtAmj/0PIXxi0A0nxKyB09RNrCQibbUjsLS/2YyFYXEu4TRJQzRw1rLEuEfY17SARYhpTlaqwZVtR8NV7+4UKkjqpcAoFqWFQh62s7Cl+H2fjBSpqfZUJcsIk4N6wiKYd4je2U/lankenQ99PZfB4jY3I5rSV2DSBVkSFsURIjYErOs0tFTQosMTAoxk//0RoKUqiYY8Bh0aaUEb0rQl3/XaVe4bXTugEjHSw==:',
      'sig-b22',
    );
    expect(b).toBe(
      [
        '"@authority": example.com',
        `"content-digest": ${REQUEST_DIGEST}`,
        '"@query-param";name="Pet": dog',
        '"@signature-params": ("@authority" "content-digest" "@query-param";name="Pet");created=1618884473;keyid="test-key-rsa-pss";tag="header-example"',
      ].join('\n'),
    );
    expect(entry.tag).toBe('header-example');
    expect(verifyBase('rsa-pss-sha512', RSA_PSS_PUBLIC, b, entry.signature)).toBe(true);
  });

  it('B.2.3 full coverage', () => {
    const { entry, base: b } = base(
      request(),
      'sig-b23=("date" "@method" "@path" "@query" "@authority" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-rsa-pss"',
      'sig-b23=:bbN8oArOxYoyylQQUU6QYwrTuaxLwjAC9fbY2F6SVWvh0yBiMIRGOnMYwZ/5MR6fb0Kh1rIRASVxFkeGt683+qRpRRU5p2voTp768ZrCUb38K0fUxN0O0iC59DzYx8DFll5GmydPxSmme9v6ULbMFkl+V5B1TP/yPViV7KsLNmvKiLJH1pFkh/aYA2HXXZzNBXmIkoQoLd7YfW91kE9o/CCoC1xMy7JA1ipwvKvfrs65ldmlu9bpG6A9BmzhuzF8Eim5f8ui9eH8LZH896+QIF61ka39VBrohr9iyMUJpvRX2Zbhl5ZJzSRxpJyoEZAFL2FUo5fTIztsDZKEgM4cUA==:',
      'sig-b23',
    );
    expect(b).toBe(
      [
        '"date": Tue, 20 Apr 2021 02:07:55 GMT',
        '"@method": POST',
        '"@path": /foo',
        '"@query": ?param=Value&Pet=dog',
        '"@authority": example.com',
        '"content-type": application/json',
        `"content-digest": ${REQUEST_DIGEST}`,
        '"content-length": 18',
        '"@signature-params": ("date" "@method" "@path" "@query" "@authority" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-rsa-pss"',
      ].join('\n'),
    );
    expect(verifyBase('rsa-pss-sha512', RSA_PSS_PUBLIC, b, entry.signature)).toBe(true);
    // One covered header changed: the same signature no longer verifies.
    const changed = signatureBase(request({ date: 'Tue, 20 Apr 2021 02:07:56 GMT' }), entry.params);
    expect(verifyBase('rsa-pss-sha512', RSA_PSS_PUBLIC, changed, entry.signature)).toBe(false);
  });

  it('B.2.4 a response signed with ecdsa-p256-sha256', () => {
    const { entry, base: b } = base(
      response(),
      'sig-b24=("@status" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-ecc-p256"',
      'sig-b24=:wNmSUAhwb5LxtOtOpNa6W5xj067m5hFrj0XQ4fvpaCLx0NKocgPquLgyahnzDnDAUy5eCdlYUEkLIj+32oiasw==:',
      'sig-b24',
    );
    expect(b).toBe(
      [
        '"@status": 200',
        '"content-type": application/json',
        `"content-digest": ${RESPONSE_DIGEST}`,
        '"content-length": 23',
        '"@signature-params": ("@status" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-ecc-p256"',
      ].join('\n'),
    );
    expect(verifyBase('ecdsa-p256-sha256', ECC_P256_PUBLIC, b, entry.signature)).toBe(true);
    // The algorithm comes from the key: a P-256 key never verifies as another algorithm.
    expect(verifyBase('ed25519', ECC_P256_PUBLIC, b, entry.signature)).toBe(false);
  });

  it('B.2.6 ed25519: signing reproduces the published signature byte for byte', () => {
    const input =
      'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"';
    const published =
      'sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:';
    const { entry, base: b } = base(request(), input, published, 'sig-b26');
    expect(b).toBe(
      [
        '"date": Tue, 20 Apr 2021 02:07:55 GMT',
        '"@method": POST',
        '"@path": /foo',
        '"@authority": example.com',
        '"content-type": application/json',
        '"content-length": 18',
        '"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"',
      ].join('\n'),
    );
    expect(verifyBase('ed25519', ED25519_PUBLIC, b, entry.signature)).toBe(true);
    // Built from scratch rather than parsed: the same Signature-Input and Signature.
    const params = signatureParams(
      ['date', '@method', '@path', '@authority', 'content-type', 'content-length'],
      { created: 1618884473, keyid: 'test-key-ed25519' },
    );
    const fields = signatureFields(
      'sig-b26',
      params,
      signBase('ed25519', ED25519_PRIVATE, signatureBase(request(), params)),
    );
    expect(fields).toEqual({ signatureInput: input, signature: published });
  });
});

describe('RFC 9530 Content-Digest', () => {
  it('matches the published sha-512 digest of the test body and checks every known algorithm', () => {
    expect(contentDigest(BODY, 'sha-512')).toBe(REQUEST_DIGEST);
    expect(checkContentDigest(REQUEST_DIGEST, Buffer.from(BODY))).toBe('ok');
    expect(checkContentDigest(`${contentDigest(BODY)}, ${REQUEST_DIGEST}`, Buffer.from(BODY))).toBe('ok');
    expect(checkContentDigest(REQUEST_DIGEST, Buffer.from('{"hello": "World"}'))).toBe('mismatch');
    // One algorithm right and one wrong is a mismatch, not a pass.
    expect(checkContentDigest(`${contentDigest('x')}, ${REQUEST_DIGEST}`, Buffer.from(BODY))).toBe(
      'mismatch',
    );
    expect(checkContentDigest('md5=:AAAA:', Buffer.from(BODY))).toBe('unsupported');
    expect(checkContentDigest('sha-256=abc', Buffer.from(BODY))).toBe('malformed');
    expect(checkContentDigest('sha-256=:not base64!:', Buffer.from(BODY))).toBe('malformed');
  });
});

describe('components and parsing', () => {
  it('derives @authority without the default port and lower-cased, @query as ? when empty', () => {
    const m: HttpMessage = { method: 'GET', targetUri: 'https://API.Example.com:443/v1/x', headers: {} };
    const b = signatureBase(m, signatureParams(['@authority', '@path', '@query', '@scheme'], {}));
    expect(b.split('\n').slice(0, 4)).toEqual([
      '"@authority": api.example.com',
      '"@path": /v1/x',
      '"@query": ?',
      '"@scheme": https',
    ]);
  });

  it('combines repeated field lines and trims them; refuses absent, duplicated and unknown components', () => {
    const m: HttpMessage = {
      method: 'GET',
      targetUri: 'https://a.example/',
      headers: { 'x-a': [' 1 ', '2'] },
    };
    expect(signatureBase(m, signatureParams(['x-a'], {})).split('\n')[0]).toBe('"x-a": 1, 2');
    expect(() => signatureBase(m, signatureParams(['x-b'], {}))).toThrow(ComponentError);
    expect(() => signatureBase(m, signatureParams(['@method', '@method'], {}))).toThrow(ComponentError);
    expect(() => signatureBase(m, signatureParams(['@nonsense'], {}))).toThrow(ComponentError);
    expect(() => signatureBase(m, signatureParams(['"x-a";bs'], {}))).toThrow(ComponentError);
    expect(() => signatureBase(m, signatureParams(['@status'], {}))).toThrow(ComponentError);
  });

  it('binds a response to its request with the req flag (§2.4)', () => {
    const m: HttpMessage = { ...response(), request: request() };
    const b = signatureBase(m, signatureParams(['@status', '"@method";req', '"@path";req'], {}));
    expect(b.split('\n').slice(0, 3)).toEqual(['"@status": 200', '"@method";req: POST', '"@path";req: /foo']);
  });

  it('refuses malformed fields and mistyped members', () => {
    expect(() => parseSignatures('sig=("@method"', 'sig=:AA==:')).toThrow(StructuredFieldError);
    expect(() => parseSignatures('sig=("@method")', 'sig=abc')).toThrow(StructuredFieldError);
    expect(() => parseSignatures('sig=("@method");created="1"', 'sig=:AA==:')).toThrow(StructuredFieldError);
    expect(() => parseSignatures('sig=(@method)', 'sig=:AA==:')).toThrow(StructuredFieldError);
    expect(() => parseDictionary('a=1,')).toThrow(StructuredFieldError);
    // A label present in one field only is not a signature.
    expect(parseSignatures('a=("@method");created=1, b=()', 'b=:AA==:').map((e) => e.label)).toEqual(['b']);
  });

  it('derives the algorithm from the key only', () => {
    expect(algorithmOfKey(ED25519_PUBLIC)).toBe('ed25519');
    expect(algorithmOfKey(ECC_P256_PUBLIC)).toBe('ecdsa-p256-sha256');
    expect(algorithmOfKey(RSA_PSS_PUBLIC)).toBe('rsa-pss-sha512');
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    expect(algorithmOfKey(weak)).toBeUndefined();
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey;
    expect(algorithmOfKey(p384)).toBeUndefined();
  });
});
