/**
 * Authentication (API2): forged and tampered access tokens, DPoP binding (RFC 9449) missing, aimed
 * elsewhere, replayed or signed by another key, and the authorization server's metadata and token
 * endpoint offering weak client authentication.
 */
import { createHmac } from 'node:crypto';
import { type Probe, type ScanContext, Skip, type Trace, verdictOf } from '../context.ts';
import { b64url, decodeJwt, dpopProof, newDpopKey, send } from '../http.ts';

const PATH = '/v1/me';
const FIX_TOKENS =
  'Verify access tokens with an explicit allow-list of asymmetric algorithms and the issuer’s keys only (never alg=none or HMAC with a public key), and check iss, aud, exp and typ.';
const FIX_DPOP =
  'Require a DPoP proof on every request with a DPoP-bound token and check its signature against cnf.jkt, htm, htu, iat, ath and jti (replay cache shared by all instances) — RFC 9449 §4.3.';

/** Partner A's session and a token of it that works (so a refusal below is about the tampering). */
async function baseline(trace: Trace) {
  const a = await trace.need('partnerA');
  const token = await a.token();
  const ok = await trace.call(a, 'GET', PATH, {
    what: `GET ${PATH} with partner A's genuine token and proof`,
  });
  if (ok.status !== 200)
    throw new Skip(`partner A's genuine token is refused (${ok.status}); nothing to compare`);
  return { a, token };
}

const sign = (header: object, payload: object) =>
  `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;

const discovery = (ctx: ScanContext, trace: Trace) =>
  ctx.fixture('discovery', async () => {
    const res = await trace.raw('/.well-known/openid-configuration');
    if (res.status !== 200 || typeof res.json !== 'object')
      throw new Skip(`no OpenID discovery document (${res.status})`);
    return res.json as Record<string, unknown>;
  });

export const tokenProbes: readonly Probe[] = [
  {
    id: 'api2-forged-token',
    category: 'API2',
    severity: 'critical',
    title: 'Forged access tokens are refused (alg=none, HS256 keyed with the public key)',
    fix: FIX_TOKENS,
    async run(ctx, trace) {
      const { a, token } = await baseline(trace);
      const { header, payload } = decodeJwt(token);
      const problems: string[] = [];
      const none = `${sign({ ...header, alg: 'none' }, payload)}.`;
      const r1 = await trace.call(a, 'GET', PATH, {
        token: none,
        what: `GET ${PATH} with an alg=none copy of the token`,
      });
      if (r1.status !== 401) problems.push(`an alg=none token answered ${r1.status}`);
      // Algorithm confusion: HMAC keyed with the issuer's public key (as JWK JSON and as the bare x).
      const jwks = await send(ctx.url('/oauth/jwks'));
      const keys = ((jwks.json as { keys?: Record<string, unknown>[] } | undefined)?.keys ?? []).filter(
        (k) => k.kid === header.kid,
      );
      const secrets = keys.flatMap((k) => [JSON.stringify(k), String(k.x ?? '')]);
      if (secrets.length === 0) secrets.push('bulwark');
      for (const secret of secrets) {
        const input = sign({ ...header, alg: 'HS256' }, payload);
        const forged = `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
        const r = await trace.call(a, 'GET', PATH, {
          token: forged,
          what: `GET ${PATH} with an HS256 copy keyed with the issuer's public key`,
        });
        if (r.status !== 401) problems.push(`an HS256 token keyed with public material answered ${r.status}`);
      }
      return verdictOf(problems);
    },
  },
  {
    id: 'api2-tampered-claims',
    category: 'API2',
    severity: 'critical',
    title: 'Access tokens whose claims were changed are refused',
    fix: FIX_TOKENS,
    async run(ctx, trace) {
      const { a, token } = await baseline(trace);
      const [h, , s] = token.split('.');
      const { payload } = decodeJwt(token);
      const otherTenant = ctx.creds.partnerB?.tenantId ?? '00000000-0000-7000-8000-000000000000';
      const problems: string[] = [];
      for (const [what, changed] of [
        ['tenant_id of another tenant', { ...payload, tenant_id: otherTenant }],
        ['exp a day later', { ...payload, exp: Number(payload.exp ?? 0) + 86_400 }],
        ['roles with tenant_admin', { ...payload, roles: ['tenant_admin'] }],
      ] as const) {
        const tampered = `${h}.${b64url(JSON.stringify(changed))}.${s}`;
        const r = await trace.call(a, 'GET', PATH, {
          token: tampered,
          what: `GET ${PATH} with ${what} (signature kept)`,
        });
        if (r.status !== 401) problems.push(`a token with ${what} answered ${r.status}`);
      }
      return verdictOf(problems);
    },
  },
  {
    id: 'api2-token-lifetime',
    category: 'API2',
    severity: 'medium',
    title: 'Access tokens are short-lived and audience-restricted',
    fix: 'Issue access tokens for minutes, not hours (FAPI 2.0 recommends short lifetimes), with an aud naming the resource server.',
    async run(_ctx, trace) {
      const { token } = await baseline(trace);
      const { header, payload } = decodeJwt(token);
      const problems: string[] = [];
      const life = Number(payload.exp) - Number(payload.iat);
      trace.record(
        'decode partner A’s access token (claims only)',
        `typ=${header.typ} alg=${header.alg} lifetime=${life}s`,
      );
      if (!Number.isFinite(life) || life > 3600)
        problems.push(`the token lives ${life} s (more than an hour)`);
      if (!payload.aud) problems.push('the token has no audience');
      if (
        !(payload.cnf as { jkt?: string } | undefined)?.jkt &&
        !(payload.cnf as Record<string, unknown>)?.['x5t#S256']
      )
        problems.push('the token is not sender-constrained (no cnf)');
      return verdictOf(problems);
    },
  },
  {
    id: 'api2-dpop-missing',
    category: 'API2',
    severity: 'high',
    title: 'A DPoP-bound token without a proof is refused (also when presented as a Bearer token)',
    fix: FIX_DPOP,
    async run(_ctx, trace) {
      const { a } = await baseline(trace);
      const problems: string[] = [];
      const r1 = await trace.call(a, 'GET', PATH, {
        proof: 'none',
        what: `GET ${PATH} with the token and no DPoP proof`,
      });
      if (r1.status !== 401) problems.push(`no proof answered ${r1.status}`);
      const r2 = await trace.call(a, 'GET', PATH, {
        proof: 'none',
        scheme: 'Bearer',
        what: `GET ${PATH} with the token as Bearer, no proof`,
      });
      if (r2.status !== 401) problems.push(`the bound token as a Bearer token answered ${r2.status}`);
      return verdictOf(problems);
    },
  },
  {
    id: 'api2-dpop-misused',
    category: 'API2',
    severity: 'high',
    title: 'DPoP proofs for another URL or method, stale, replayed or signed by another key are refused',
    fix: FIX_DPOP,
    async run(_ctx, trace) {
      const { a, token } = await baseline(trace);
      const problems: string[] = [];
      const url = a.url(PATH);
      const check = async (what: string, proof: string) => {
        const r = await trace.call(a, 'GET', PATH, { proof, what: `GET ${PATH} with a proof ${what}` });
        if (r.status !== 401) problems.push(`a proof ${what} answered ${r.status}`);
      };
      await check('for another URL', await dpopProof(a.key, 'GET', a.url('/v1/customers'), token));
      await check('for another method', await dpopProof(a.key, 'POST', url, token));
      await check(
        'from ten minutes ago',
        await dpopProof(a.key, 'GET', url, token, { iat: Math.floor(Date.now() / 1000) - 600 }),
      );
      await check('without ath', await dpopProof(a.key, 'GET', url));
      await check('signed by another key', await dpopProof(await newDpopKey(), 'GET', url, token));
      const once = await dpopProof(a.key, 'GET', url, token);
      const first = await trace.call(a, 'GET', PATH, { proof: once, what: `GET ${PATH} with a fresh proof` });
      if (first.status !== 200) throw new Skip(`a fresh proof is refused (${first.status})`);
      await check('replayed', once);
      return verdictOf(problems);
    },
  },
  {
    id: 'api2-client-auth-metadata',
    category: 'API2',
    severity: 'high',
    title: 'The authorization server offers only strong client authentication and flows (FAPI 2.0)',
    fix: 'Offer only private_key_jwt / mTLS client authentication, the code flow with PAR and PKCE S256, and asymmetric signing algorithms; never client secrets, implicit, password or alg=none.',
    async run(ctx, trace) {
      const d = await discovery(ctx, trace);
      const problems: string[] = [];
      const list = (k: string) => (Array.isArray(d[k]) ? (d[k] as unknown[]).map(String) : []);
      const strong = new Set(['private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth']);
      for (const key of Object.keys(d).filter((k) => k.endsWith('_auth_methods_supported'))) {
        const weak = list(key).filter((m) => !strong.has(m));
        if (weak.length) problems.push(`${key} offers ${weak.join(', ')}`);
      }
      const weakGrants = list('grant_types_supported').filter((g) => g === 'implicit' || g === 'password');
      if (weakGrants.length) problems.push(`grant types ${weakGrants.join(', ')} offered`);
      const responseTypes = list('response_types_supported').filter((t) => t !== 'code');
      if (responseTypes.length) problems.push(`response types ${responseTypes.join(', ')} offered`);
      if (list('code_challenge_methods_supported').some((m) => m !== 'S256'))
        problems.push('PKCE plain offered');
      if (d.require_pushed_authorization_requests !== true) problems.push('PAR is not required');
      for (const key of Object.keys(d).filter((k) => k.endsWith('_alg_values_supported'))) {
        const bad = list(key).filter((alg) => alg === 'none' || /^HS/.test(alg));
        if (bad.length) problems.push(`${key} offers ${bad.join(', ')}`);
      }
      if (list('dpop_signing_alg_values_supported').length === 0) problems.push('DPoP is not offered');
      trace.record(
        'read the discovery metadata',
        problems.length ? 'weak options offered' : 'strong options only',
      );
      return verdictOf(problems);
    },
  },
  {
    id: 'api2-client-secret-accepted',
    category: 'API2',
    severity: 'high',
    title: 'The token endpoint refuses client secrets and unauthenticated clients',
    fix: 'Disable client_secret_basic, client_secret_post, client_secret_jwt and none for every client.',
    async run(ctx, trace) {
      const a = ctx.creds.partnerA;
      if (!a) throw new Skip('the credentials file names no partnerA');
      const d = await discovery(ctx, trace);
      const tokenUrl = String(d.token_endpoint ?? ctx.url('/oauth/token'));
      const path = new URL(tokenUrl).pathname;
      const form = (extra: Record<string, string>) =>
        new URLSearchParams({ grant_type: 'client_credentials', ...extra }).toString();
      const problems: string[] = [];
      const attempts: [string, Record<string, string>, string][] = [
        [
          'client_secret_basic',
          { authorization: `Basic ${Buffer.from(`${a.clientId}:guessed-secret`).toString('base64')}` },
          form({}),
        ],
        ['client_secret_post', {}, form({ client_id: a.clientId, client_secret: 'guessed-secret' })],
        ['none (client id only)', {}, form({ client_id: a.clientId })],
      ];
      for (const [what, headers, body] of attempts) {
        const r = await trace.raw(path, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
          body,
          what: `POST ${path} client_credentials with ${what}`,
        });
        if (r.status === 200) problems.push(`a token was issued with ${what}`);
      }
      return verdictOf(problems);
    },
  },
];
