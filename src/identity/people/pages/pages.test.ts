import { createHash } from 'node:crypto';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import {
  type Asset,
  assetUrl,
  pageCsp,
  pageHeaders,
  passkeyScript,
  peopleAssetRoutes,
  stylesheet,
} from './assets.ts';
import { escapeHtml, safeUrl } from './html.ts';
import {
  consentPage,
  formatAmount as format,
  loginPage,
  messagePage,
  passkeyRegistrationPage,
  recoveryCodesPage,
  secondFactorPage,
  totpEnrolmentPage,
} from './pages.ts';

const EVIL = `"><script>alert(1)</script><img src=x onerror=alert(2)>'\``;
const CSRF = 'csrf-token-value';

/** Structural checks every page must pass. */
function checkPage(page: string) {
  expect(page.startsWith('<!doctype html>')).toBe(true);
  expect(page).toMatch(/<html lang="[a-zA-Z-]+">/);
  expect(page.match(/<h1>/g)).toHaveLength(1);
  expect(page).toMatch(/<title>[^<]+<\/title>/);
  // No inline script, style or event handler (strict CSP): only the external, hashed files.
  expect(page).not.toMatch(/<script(?![^>]*\ssrc=)/);
  for (const [tag] of page.matchAll(/<[a-zA-Z][^>]*>/g)) {
    const attributes = tag.replace(/"[^"]*"/g, '""');
    expect(attributes).not.toMatch(/\sstyle=/);
    expect(attributes).not.toMatch(/\son[a-z]+=/i);
  }
  expect(page).not.toContain('<img');
  expect(page).toContain(
    `<link rel="stylesheet" href="${assetUrl(stylesheet)}" integrity="${stylesheet.integrity}">`,
  );
  // Every visible input has a label pointing at it.
  for (const m of page.matchAll(/<input ([^>]*)>/g)) {
    const attrs = m[1]!;
    if (attrs.includes('type="hidden"')) continue;
    const id = /id="([^"]+)"/.exec(attrs)?.[1];
    expect(id, attrs).toBeDefined();
    expect(page).toContain(`<label for="${id}">`);
  }
  // Every form posts and carries the CSRF token.
  const forms = page.match(/<form [^>]*>/g) ?? [];
  for (const f of forms) expect(f).toContain('method="post"');
  expect(page.split('name="csrf"').length - 1).toBe(forms.length);
}

describe('sign-in pages', () => {
  it('login: labels, autocomplete, CSRF, hostile values escaped', () => {
    const page = loginPage({
      action: '/oauth/interaction/abc/login',
      csrfToken: CSRF,
      username: EVIL,
      tenantName: EVIL,
      clientName: EVIL,
      cancelAction: '/oauth/interaction/abc/abort',
    });
    checkPage(page);
    expect(page).not.toContain('<script>alert');
    expect(page).toContain(escapeHtml(EVIL));
    expect(page).toContain('autocomplete="username"');
    expect(page).toContain('autocomplete="current-password"');
    expect(page).toContain('type="password"');
    expect(page).not.toContain('error-summary');
  });

  it('login failure: an error summary linked to the field, no hint of which factor failed', () => {
    const page = loginPage({ action: '/login', csrfToken: CSRF, username: 'ada', error: 'failed' });
    checkPage(page);
    expect(page).toContain('role="alert"');
    expect(page).toContain('<a href="#username">');
    expect(page).toMatch(
      /<input id="username"[^>]*aria-describedby="username-error"[^>]*aria-invalid="true">/,
    );
    expect(page).toContain('<title>Error: Sign in</title>');
    expect(page.toLowerCase()).not.toMatch(
      /password (is|was) (wrong|incorrect)|unknown user|no such user|code (is|was) wrong/,
    );
    expect(page).not.toContain('One attempt left');
  });

  it('shows the last-attempt warning as a flag, and the locked message', () => {
    const warned = loginPage({ action: '/login', csrfToken: CSRF, error: 'failed', warning: true });
    checkPage(warned);
    expect(warned).toContain('One attempt left');
    const locked = loginPage({ action: '/login', csrfToken: CSRF, error: 'locked', warning: true });
    checkPage(locked);
    expect(locked).toContain('Sign-in is blocked');
    expect(locked).not.toContain('One attempt left');
    checkPage(loginPage({ action: '/login', csrfToken: CSRF, error: 'expired' }));
  });

  it('second factor: one code field for app or recovery codes; passkey form hidden without JS', () => {
    const plain = secondFactorPage({ action: '/mfa', csrfToken: CSRF });
    checkPage(plain);
    expect(plain).toContain('autocomplete="one-time-code"');
    expect(plain).not.toContain('<script');
    const options = {
      challenge: `abc${EVIL}`,
      rpId: 'login.example.test',
      userVerification: 'preferred' as const,
    };
    const withKey = secondFactorPage({
      action: '/mfa',
      csrfToken: CSRF,
      passkey: { action: '/mfa/passkey', options },
    });
    checkPage(withKey);
    expect(withKey).toContain(
      `<script src="${assetUrl(passkeyScript)}" integrity="${passkeyScript.integrity}" defer></script>`,
    );
    expect(withKey).toMatch(/<form [^>]*data-webauthn="get"[^>]*hidden>/);
    expect(withKey).not.toContain('<script>alert');
    // The options round-trip through the escaped attribute.
    const attr = /data-webauthn-options="([^"]*)"/.exec(withKey)?.[1] ?? '';
    const unescaped = attr
      .replace(/&quot;/g, '"')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&#39;/g, "'")
      .replace(/&#96;/g, '`')
      .replace(/&amp;/g, '&');
    expect(JSON.parse(unescaped)).toEqual(options);
    const missing = secondFactorPage({ action: '/mfa', csrfToken: CSRF, error: 'missing' });
    checkPage(missing);
    expect(missing).toContain('<a href="#code">');
  });

  it('TOTP enrolment: otpauth link, grouped key, code field', () => {
    const page = totpEnrolmentPage({
      action: '/mfa/enrol',
      csrfToken: CSRF,
      secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP',
      otpauthUri: 'otpauth://totp/Bulwark:ada?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Bulwark',
      error: 'invalid',
    });
    checkPage(page);
    expect(page).toContain(
      'href="otpauth://totp/Bulwark:ada?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&amp;issuer=Bulwark"',
    );
    expect(page).toContain('JBSW Y3DP EHPK 3PXP');
    expect(page).toContain('inputmode="numeric"');
    expect(() =>
      totpEnrolmentPage({ action: '/x', csrfToken: CSRF, secret: 'A', otpauthUri: 'javascript:alert(1)' }),
    ).toThrow('unsafe URL');
  });

  it('recovery codes and passkey registration pages', () => {
    const codes = recoveryCodesPage({ action: '/done', csrfToken: CSRF, codes: ['AAAA-BBBB', EVIL] });
    checkPage(codes);
    expect(codes).toContain('<li><code>AAAA-BBBB</code></li>');
    expect(codes).not.toContain('<script>alert');
    const reg = passkeyRegistrationPage({
      action: '/passkey',
      csrfToken: CSRF,
      skipAction: '/skip',
      options: {
        challenge: 'c',
        rp: { name: EVIL, id: 'login.example.test' },
        user: { id: 'u', name: EVIL, displayName: EVIL },
        pubKeyCredParams: [{ alg: -7, type: 'public-key' }],
      },
    });
    checkPage(reg);
    expect(reg).toContain('<noscript>');
    expect(reg).not.toContain('<script>alert');
  });

  it('consent: scopes and, for a payment, amount, currency and payee — escaped', () => {
    const page = consentPage({
      action: '/consent',
      csrfToken: CSRF,
      clientName: EVIL,
      scopes: [{ name: 'openid' }, { name: 'payments', description: `Make payments ${EVIL}` }],
      payment: {
        amountMinor: 123456n,
        currency: 'EUR',
        payee: { name: `Garage ${EVIL}`, account: 'DE89 3704 0044 0532 0130 00' },
        reference: 'Claim 42',
      },
    });
    checkPage(page);
    expect(page).toContain('Approve this payment?');
    expect(page).toContain('€1,234.56');
    expect(page).toContain('<dd>EUR</dd>');
    expect(page).toContain('DE89 3704 0044 0532 0130 00');
    expect(page).toContain('name="decision" value="approve"');
    expect(page).toContain('name="decision" value="deny"');
    expect(page).not.toContain('<script>alert');
    checkPage(
      consentPage({ action: '/consent', csrfToken: CSRF, clientName: 'App', scopes: [{ name: 'openid' }] }),
    );
  });

  it('formats minor units exactly, with the currency’s own decimals', () => {
    const formatAmount = (...args: Parameters<typeof format>) => format(...args).replace(/\u00a0/g, ' ');
    expect(formatAmount(123456, 'EUR')).toBe('€1,234.56');
    expect(formatAmount('5', 'EUR')).toBe('€0.05');
    expect(formatAmount(-250n, 'GBP')).toBe('-£2.50');
    expect(formatAmount(1500, 'JPY')).toBe('¥1,500');
    expect(formatAmount(1234, 'KWD')).toBe('KWD 1.234');
    expect(formatAmount(9007199254740993n, 'USD')).toBe('$90,071,992,547,409.93');
    expect(formatAmount(123456, 'EUR', 'de-DE')).toBe('1.234,56 €');
    expect(() => formatAmount(1, 'euro')).toThrow('ISO 4217');
  });

  it('message page, language and URL checks', () => {
    const page = messagePage({
      lang: 'de',
      title: 'Abgelaufen',
      message: EVIL,
      link: { href: '/start', text: 'Neu' },
    });
    checkPage(page);
    expect(page).toContain('<html lang="de">');
    expect(messagePage({ lang: '"><x', title: 't', message: 'm' })).toContain('<html lang="en">');
    expect(() => safeUrl('//evil.example/x')).toThrow();
    expect(() => safeUrl('javascript:alert(1)')).toThrow();
    expect(() => safeUrl('data:text/html,x')).toThrow();
    expect(safeUrl('https://client.example/cb')).toBe('https://client.example/cb');
  });
});

describe('page assets and headers', () => {
  it('serves the stylesheet and script with their types, immutable caching and matching SRI hashes', async () => {
    const app = Fastify();
    await app.register(peopleAssetRoutes);
    const check = async (asset: Asset, type: string) => {
      const res = await app.inject({ method: 'GET', url: assetUrl(asset) });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe(type);
      expect(res.headers['cache-control']).toContain('immutable');
      expect(`sha384-${createHash('sha384').update(res.body).digest('base64')}`).toBe(asset.integrity);
    };
    await check(stylesheet, 'text/css; charset=utf-8');
    await check(passkeyScript, 'text/javascript; charset=utf-8');
    await app.close();
  });

  it('gives pages a strict CSP that allows only our files and our form targets', () => {
    const csp = pageCsp(['https://client.example/callback?x=1']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("form-action 'self' https://client.example");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(pageHeaders()).toMatchObject({
      'cache-control': 'no-store',
      'content-type': 'text/html; charset=utf-8',
    });
  });
});
