/**
 * Server-rendered pages of sign-in, second factor, enrolment and consent, as pure functions from
 * data to an HTML string. The caller sends them with `pageHeaders()`.
 *
 * Accessibility (WCAG 2.2 AA): `lang` on the document, one `h1` per page, every input with a
 * `<label>`, hints and errors tied to inputs with `aria-describedby`, an error summary at the top
 * (role="alert", each entry a link to its field), autocomplete tokens so password managers and
 * one-time-code autofill work (WCAG 1.3.5). Nothing needs JavaScript except passkeys, whose forms
 * stay hidden without it.
 *
 * Security: every value is escaped (`html`), URLs are checked (`safeUrl`), every form carries the
 * session's CSRF token, no inline script or style (strict CSP, `pageCsp`), and the errors never say
 * which factor was wrong (PSD2 RTS Art. 4(3)(a)).
 */
import type { PasskeyCreationOptions, PasskeyRequestOptions } from '../webauthn.ts';
import { assetUrl, passkeyScript, stylesheet } from './assets.ts';
import { html, type SafeHtml, safeUrl } from './html.ts';

export const CSRF_FIELD = 'csrf';

interface PageBase {
  /** BCP 47 language of the page; default `en`. */
  readonly lang?: string;
  readonly csrfToken: string;
}

interface FieldError {
  /** The id of the input the message is about; the summary links to it. */
  readonly field?: string;
  readonly message: string;
}

const LANG_RE = /^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$/;

const T = {
  signIn: 'Sign in',
  username: 'Username',
  password: 'Password',
  problem: 'There is a problem',
  failed: 'The sign-in details are not correct. Check them and try again.',
  locked:
    'Sign-in is blocked after too many failed attempts. Try again later, or ask your administrator to unblock your account.',
  expired: 'Your sign-in session has expired. Please start again.',
  lastAttempt: 'One attempt left: after one more failed attempt, sign-in will be blocked.',
  continue: 'Continue',
  verify: 'Verify',
  cancel: 'Cancel',
  secondFactor: 'Confirm it is you',
  codeLabel: 'Security code',
  codeHint: 'The 6-digit code from your authenticator app, or one of your recovery codes.',
  codeMissing: 'Enter a security code.',
  usePasskey: 'Use a passkey',
  passkeyOr: 'Or use a passkey',
  passkeyFailed: 'The passkey was not used. Try again, or enter a security code.',
  enrolTitle: 'Set up an authenticator app',
  enrolIntro:
    'Add this account to an authenticator app (such as one on your phone), then enter the 6-digit code it shows.',
  enrolOpen: 'Open in authenticator app',
  enrolKey: 'Or enter this key by hand',
  enrolCodeLabel: '6-digit code',
  enrolInvalid: 'That code did not match. Check the time on your device and enter the current code.',
  codesTitle: 'Save your recovery codes',
  codesIntro:
    'Each code can be used once to sign in if you lose your authenticator. Store them somewhere safe: they will not be shown again.',
  codesSaved: 'I have saved these codes',
  passkeyTitle: 'Add a passkey',
  passkeyIntro: 'A passkey lets you confirm it is you with your device’s screen lock or a security key.',
  passkeyCreate: 'Create a passkey',
  passkeyNeedsJs: 'Adding a passkey needs JavaScript and a browser that supports passkeys.',
  consentTitle: 'Allow access?',
  consentIntro: 'wants to:',
  paymentTitle: 'Approve this payment?',
  amount: 'Amount',
  currency: 'Currency',
  payee: 'Payee',
  account: 'Account',
  reference: 'Reference',
  approve: 'Approve',
  allow: 'Allow',
  deny: 'Deny',
} as const;

function page(opts: { lang?: string | undefined; title: string; body: SafeHtml; passkey?: boolean }): string {
  const lang = opts.lang && LANG_RE.test(opts.lang) ? opts.lang : 'en';
  return html`<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${opts.title}</title>
<link rel="stylesheet" href="${assetUrl(stylesheet)}" integrity="${stylesheet.integrity}">
${opts.passkey ? html`<script src="${assetUrl(passkeyScript)}" integrity="${passkeyScript.integrity}" defer></script>` : ''}
</head>
<body>
<main id="main">
${opts.body}
</main>
</body>
</html>
`.value;
}

function errorSummary(errors: readonly FieldError[]): SafeHtml {
  if (errors.length === 0) return html``;
  return html`<div class="error-summary" role="alert" aria-labelledby="error-summary-title" tabindex="-1">
<h2 id="error-summary-title">${T.problem}</h2>
<ul>
${errors.map((e) => (e.field ? html`<li><a href="#${e.field}">${e.message}</a></li>` : html`<li>${e.message}</li>`))}
</ul>
</div>`;
}

function csrf(token: string): SafeHtml {
  return html`<input type="hidden" name="${CSRF_FIELD}" value="${token}">`;
}

interface InputSpec {
  readonly id: string;
  readonly name?: string;
  readonly label: string;
  readonly type?: 'text' | 'password' | 'email';
  readonly value?: string | undefined;
  readonly hint?: string;
  readonly error?: string | undefined;
  readonly autocomplete: string;
  readonly inputmode?: 'numeric' | 'text';
  readonly maxlength?: number;
  readonly spellcheck?: false;
  readonly autocapitalize?: 'none';
}

function input(s: InputSpec): SafeHtml {
  const described = [s.hint ? `${s.id}-hint` : '', s.error ? `${s.id}-error` : ''].filter(Boolean).join(' ');
  return html`<label for="${s.id}">${s.label}${s.hint ? html`<span class="hint" id="${s.id}-hint">${s.hint}</span>` : ''}</label>
${s.error ? html`<span class="field-error" id="${s.id}-error"><span class="visually-hidden">Error: </span>${s.error}</span>` : ''}
<input id="${s.id}" name="${s.name ?? s.id}" type="${s.type ?? 'text'}" autocomplete="${s.autocomplete}" required${s.value !== undefined ? html` value="${s.value}"` : ''}${s.inputmode ? html` inputmode="${s.inputmode}"` : ''}${s.maxlength ? html` maxlength="${s.maxlength}"` : ''}${s.spellcheck === false ? html` spellcheck="false"` : ''}${s.autocapitalize ? html` autocapitalize="${s.autocapitalize}"` : ''}${described ? html` aria-describedby="${described}"` : ''}${s.error ? html` aria-invalid="true"` : ''}>`;
}

function warningBox(show: boolean | undefined): SafeHtml {
  return show ? html`<div class="warning" role="status"><strong>${T.lastAttempt}</strong></div>` : html``;
}

// ---- sign in ------------------------------------------------------------------------------------

export interface LoginPageInput extends PageBase {
  /** Where the form posts (same-origin path, e.g. `/oauth/interaction/<uid>/login`). */
  readonly action: string;
  /** Username to fill back in after a failure (never the password). */
  readonly username?: string;
  /** `failed`: generic failure; `locked`: blocked; `expired`: the login session ran out. */
  readonly error?: 'failed' | 'locked' | 'expired';
  /** The next failure locks (PSD2 RTS Art. 4(4)). */
  readonly warning?: boolean;
  /** Shown as the heading's context: the insurer, and the app asking. */
  readonly tenantName?: string;
  readonly clientName?: string;
  /** A form (POST) that abandons the sign-in, e.g. the interaction's abort endpoint. */
  readonly cancelAction?: string;
}

export function loginPage(p: LoginPageInput): string {
  const errors: FieldError[] =
    p.error === 'failed'
      ? [{ field: 'username', message: T.failed }]
      : p.error === 'locked'
        ? [{ message: T.locked }]
        : p.error === 'expired'
          ? [{ message: T.expired }]
          : [];
  const title = p.tenantName ? `${T.signIn} – ${p.tenantName}` : T.signIn;
  const body = html`${errorSummary(errors)}
${warningBox(p.warning && p.error !== 'locked')}
<h1>${T.signIn}</h1>
${p.clientName ? html`<p>to continue to <strong>${p.clientName}</strong>${p.tenantName ? html` (${p.tenantName})` : ''}</p>` : ''}
<form method="post" action="${safeUrl(p.action)}" novalidate>
${csrf(p.csrfToken)}
${input({ id: 'username', label: T.username, value: p.username, autocomplete: 'username', error: p.error === 'failed' ? T.failed : undefined, spellcheck: false, autocapitalize: 'none', maxlength: 254 })}
${input({ id: 'password', label: T.password, type: 'password', autocomplete: 'current-password', maxlength: 512 })}
<div class="actions"><button type="submit">${T.continue}</button></div>
</form>
${cancelForm(p.cancelAction, p.csrfToken)}`;
  return page({ lang: p.lang, title: p.error ? `Error: ${title}` : title, body });
}

function cancelForm(action: string | undefined, token: string): SafeHtml {
  if (!action) return html``;
  return html`<form method="post" action="${safeUrl(action)}">
${csrf(token)}
<button type="submit" class="secondary">${T.cancel}</button>
</form>`;
}

// ---- second factor ------------------------------------------------------------------------------

export interface SecondFactorPageInput extends PageBase {
  /** Where the code form posts. */
  readonly action: string;
  readonly error?: 'missing';
  /** Offer a passkey: where its form posts and the options (`passkeyAuthenticationOptions`). */
  readonly passkey?: { readonly action: string; readonly options: PasskeyRequestOptions };
  readonly cancelAction?: string;
}

/**
 * One field for an authenticator-app code or a recovery code, and a passkey button when the
 * browser can use one. Failures are not shown here: after a failed second step the user is sent
 * back to the sign-in page with the generic message, since it may have been the password.
 */
export function secondFactorPage(p: SecondFactorPageInput): string {
  const errors: FieldError[] = p.error === 'missing' ? [{ field: 'code', message: T.codeMissing }] : [];
  const body = html`${errorSummary(errors)}
<h1>${T.secondFactor}</h1>
<form method="post" action="${safeUrl(p.action)}" novalidate>
${csrf(p.csrfToken)}
<input type="hidden" name="method" value="code">
${input({ id: 'code', label: T.codeLabel, hint: T.codeHint, autocomplete: 'one-time-code', error: p.error === 'missing' ? T.codeMissing : undefined, spellcheck: false, autocapitalize: 'none', maxlength: 64 })}
<div class="actions"><button type="submit">${T.verify}</button></div>
</form>
${p.passkey ? passkeyForm('get', p.passkey.action, p.passkey.options, p.csrfToken, T.passkeyOr, T.usePasskey) : ''}
${cancelForm(p.cancelAction, p.csrfToken)}`;
  return page({
    lang: p.lang,
    title: p.error ? `Error: ${T.secondFactor}` : T.secondFactor,
    body,
    passkey: !!p.passkey,
  });
}

function passkeyForm(
  mode: 'get' | 'create',
  action: string,
  options: PasskeyRequestOptions | PasskeyCreationOptions,
  token: string,
  heading: string,
  button: string,
): SafeHtml {
  // The options travel as an escaped attribute value: data, never script.
  return html`<form method="post" action="${safeUrl(action)}" data-webauthn="${mode}" data-webauthn-options="${JSON.stringify(options)}" data-webauthn-error="${T.passkeyFailed}" hidden>
<h2>${heading}</h2>
${csrf(token)}
<input type="hidden" name="method" value="webauthn">
<input type="hidden" name="response" value="">
<p data-webauthn-status role="status"></p>
<button type="submit">${button}</button>
</form>`;
}

// ---- enrolment ----------------------------------------------------------------------------------

export interface TotpEnrolmentPageInput extends PageBase {
  readonly action: string;
  /** Base32 seed from `beginTotpEnrolment`. */
  readonly secret: string;
  /** otpauth:// URI from `beginTotpEnrolment`. */
  readonly otpauthUri: string;
  readonly error?: 'invalid' | 'missing';
}

export function totpEnrolmentPage(p: TotpEnrolmentPageInput): string {
  const message = p.error === 'invalid' ? T.enrolInvalid : p.error === 'missing' ? T.codeMissing : undefined;
  const errors: FieldError[] = message ? [{ field: 'code', message }] : [];
  const grouped = p.secret.match(/.{1,4}/g)?.join(' ') ?? p.secret;
  const body = html`${errorSummary(errors)}
<h1>${T.enrolTitle}</h1>
<p>${T.enrolIntro}</p>
<p><a href="${safeUrl(p.otpauthUri, ['otpauth:'])}">${T.enrolOpen}</a></p>
<p>${T.enrolKey}:</p>
<p class="secret" aria-label="${`Setup key: ${[...p.secret].join(' ')}`}">${grouped}</p>
<form method="post" action="${safeUrl(p.action)}" novalidate>
${csrf(p.csrfToken)}
${input({ id: 'code', label: T.enrolCodeLabel, autocomplete: 'one-time-code', inputmode: 'numeric', error: message, maxlength: 8 })}
<div class="actions"><button type="submit">${T.verify}</button></div>
</form>`;
  return page({ lang: p.lang, title: message ? `Error: ${T.enrolTitle}` : T.enrolTitle, body });
}

export interface RecoveryCodesPageInput extends PageBase {
  readonly action: string;
  readonly codes: readonly string[];
}

export function recoveryCodesPage(p: RecoveryCodesPageInput): string {
  const body = html`<h1>${T.codesTitle}</h1>
<p>${T.codesIntro}</p>
<ol class="codes">
${p.codes.map((c) => html`<li><code>${c}</code></li>`)}
</ol>
<form method="post" action="${safeUrl(p.action)}">
${csrf(p.csrfToken)}
<div class="actions"><button type="submit">${T.codesSaved}</button></div>
</form>`;
  return page({ lang: p.lang, title: T.codesTitle, body });
}

export interface PasskeyRegistrationPageInput extends PageBase {
  readonly action: string;
  /** From `passkeyRegistrationOptions`; keep `options.challenge` in the session. */
  readonly options: PasskeyCreationOptions;
  readonly error?: 'failed';
  readonly skipAction?: string;
}

export function passkeyRegistrationPage(p: PasskeyRegistrationPageInput): string {
  const errors: FieldError[] = p.error === 'failed' ? [{ message: T.passkeyFailed }] : [];
  const body = html`${errorSummary(errors)}
<h1>${T.passkeyTitle}</h1>
<p>${T.passkeyIntro}</p>
<noscript><p>${T.passkeyNeedsJs}</p></noscript>
${passkeyForm('create', p.action, p.options, p.csrfToken, T.passkeyTitle, T.passkeyCreate)}
${cancelForm(p.skipAction, p.csrfToken)}`;
  return page({
    lang: p.lang,
    title: p.error ? `Error: ${T.passkeyTitle}` : T.passkeyTitle,
    body,
    passkey: true,
  });
}

// ---- consent ------------------------------------------------------------------------------------

export interface ConsentScope {
  readonly name: string;
  readonly description?: string;
}

export interface PaymentDetails {
  /** Integer minor units (DESIGN invariant 3): 12345 EUR is €123.45. */
  readonly amountMinor: bigint | number | string;
  /** ISO 4217 code. */
  readonly currency: string;
  readonly payee: { readonly name: string; readonly account?: string };
  readonly reference?: string;
}

export interface ConsentPageInput extends PageBase {
  readonly action: string;
  readonly clientName: string;
  readonly scopes: readonly ConsentScope[];
  /**
   * A payment to approve (PSD2 RTS Art. 5(1)(a): the payer is made aware of the amount and the
   * payee). The decision posts `decision=approve|deny`.
   */
  readonly payment?: PaymentDetails;
}

export function consentPage(p: ConsentPageInput): string {
  const title = p.payment ? T.paymentTitle : T.consentTitle;
  const payment = p.payment ? paymentSummary(p.payment, p.lang ?? 'en') : html``;
  const body = html`<h1>${title}</h1>
<p><strong>${p.clientName}</strong> ${T.consentIntro}</p>
${payment}
<ul>
${p.scopes.map((s) => html`<li><strong>${s.description ?? s.name}</strong>${s.description ? html` <span class="hint">(${s.name})</span>` : ''}</li>`)}
</ul>
<form method="post" action="${safeUrl(p.action)}">
${csrf(p.csrfToken)}
<div class="actions">
<button type="submit" name="decision" value="approve">${p.payment ? T.approve : T.allow}</button>
<button type="submit" name="decision" value="deny" class="secondary">${T.deny}</button>
</div>
</form>`;
  return page({ lang: p.lang, title, body });
}

function paymentSummary(pay: PaymentDetails, lang: string): SafeHtml {
  return html`<dl class="summary">
<dt>${T.amount}</dt><dd class="amount">${formatAmount(pay.amountMinor, pay.currency, lang)}</dd>
<dt>${T.currency}</dt><dd>${pay.currency}</dd>
<dt>${T.payee}</dt><dd>${pay.payee.name}</dd>
${pay.payee.account ? html`<dt>${T.account}</dt><dd>${pay.payee.account}</dd>` : ''}
${pay.reference ? html`<dt>${T.reference}</dt><dd>${pay.reference}</dd>` : ''}
</dl>`;
}

/**
 * An amount in minor units as the payer reads it ("€1,234.56"), exactly: the decimal is built from
 * the integer as text, never through a float.
 */
export function formatAmount(amountMinor: bigint | number | string, currency: string, lang = 'en'): string {
  if (!/^[A-Z]{3}$/.test(currency)) throw new Error('currency must be an ISO 4217 code');
  const minor = BigInt(amountMinor);
  const locale = LANG_RE.test(lang) ? lang : 'en';
  const digits =
    new Intl.NumberFormat(locale, { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ??
    2;
  const abs = minor < 0n ? -minor : minor;
  const scale = 10n ** BigInt(digits);
  const whole = (abs / scale).toString();
  const frac = digits > 0 ? `.${(abs % scale).toString().padStart(digits, '0')}` : '';
  const decimal = `${minor < 0n ? '-' : ''}${whole}${frac}` as `${number}`;
  return new Intl.NumberFormat(locale, {
    style: 'currency',
    currency,
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(decimal);
}

// ---- messages -----------------------------------------------------------------------------------

export interface MessagePageInput {
  readonly lang?: string;
  readonly title: string;
  readonly message: string;
  /** A link onwards (same-origin path). */
  readonly link?: { readonly href: string; readonly text: string };
}

/** A page with a heading and a sentence: session expired, signed out, consent denied. */
export function messagePage(p: MessagePageInput): string {
  const body = html`<h1>${p.title}</h1>
<p>${p.message}</p>
${p.link ? html`<p><a href="${safeUrl(p.link.href)}">${p.link.text}</a></p>` : ''}`;
  return page({ lang: p.lang, title: p.title, body });
}
