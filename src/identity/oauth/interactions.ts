import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type Provider from 'oidc-provider';
import { setContextAccess } from '../../platform/http/route-guard.ts';
import { ACR_2FA } from '../people/amr.ts';
import {
  CSRF_FIELD,
  checkCsrf,
  consentPage,
  issueCsrf,
  type LoginSession,
  type LoginSessions,
  loginPage,
  messagePage,
  type PeopleService,
  pageHeaders,
  secondFactorPage,
} from '../people/index.ts';
import {
  detailProblem,
  fromDecimal,
  PAYMENT_INITIATION,
  type PaymentInitiationDetail,
} from '../sca/details.ts';

const FORM_LIMIT = 8 * 1024;

export interface InteractionDeps {
  readonly provider: () => Provider;
  readonly people: PeopleService;
  readonly sessions: LoginSessions;
  /**
   * Each decided sign-in step, for threat detection (credential stuffing, spraying). The username
   * is passed only when the user is not known, to be digested by the receiver, never stored.
   */
  readonly onSignIn?: ((report: SignInReport) => void) | undefined;
}

export interface SignInReport {
  readonly tenantId: string;
  readonly clientId?: string | undefined;
  readonly ip: string;
  readonly userId?: string | undefined;
  readonly username?: string | undefined;
  readonly outcome: 'success' | 'failure' | 'locked';
}

type Form = Record<string, string>;

/**
 * The payment a consent is asked for (RFC 9396 `authorization_details` of type
 * payment_initiation, validated at PAR), or undefined for a plain sign-in. One payment per approval.
 */
function requestedPayment(params: Record<string, unknown>): PaymentInitiationDetail | undefined {
  if (typeof params.authorization_details !== 'string') return undefined;
  const all = JSON.parse(params.authorization_details) as unknown[];
  const payments = all.filter(
    (d): d is PaymentInitiationDetail =>
      (d as { type?: unknown }).type === PAYMENT_INITIATION && detailProblem(d) === undefined,
  );
  if (payments.length !== 1 || all.length !== 1)
    throw new Error('one payment_initiation detail per approval');
  return payments[0];
}

/** SCA is two factors (PSD2 Art. 97): a payment cannot be approved in a one-factor session. */
const twoFactor = (session: { acr?: string } | undefined) => session?.acr === ACR_2FA;

/**
 * The pages oidc-provider hands people to (its `interactions.url`): sign-in with password, second
 * factor, and consent. Server-rendered, usable without JavaScript, CSRF-protected through a
 * server-side login session (5 minutes idle) bound to the interaction. The tenant comes from the
 * client that asked: a person signs in to the insurer whose partner app sent them.
 */
export async function interactionRoutes(app: FastifyInstance, deps: InteractionDeps): Promise<void> {
  setContextAccess(app, 'public');
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: FORM_LIMIT },
    (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );

  const details = async (req: FastifyRequest, reply: FastifyReply) => {
    const provider = deps.provider();
    const interaction = await provider.interactionDetails(req.raw, reply.raw);
    const client = await provider.Client.find(String(interaction.params.client_id));
    const meta = client?.metadata() as
      | { tenant_id?: string; client_name?: string; redirect_uris?: string[] }
      | undefined;
    if (!client || !meta?.tenant_id) throw new Error('interaction without a known client');
    const origins = (meta.redirect_uris ?? []).map((u) => new URL(u).origin);
    return {
      provider,
      interaction,
      tenantId: meta.tenant_id,
      clientName: meta.client_name ?? client.clientId,
      origins,
    };
  };

  const render = (reply: FastifyReply, html: string, origins: readonly string[], status = 200) =>
    reply.code(status).headers(pageHeaders(origins)).send(html);

  /** The login session of this interaction, or a fresh one (cookie set). */
  const sessionFor = async (req: FastifyRequest, reply: FastifyReply, uid: string, tenantId: string) => {
    const existing = await deps.sessions.get(deps.sessions.idFromCookieHeader(req.headers.cookie));
    if (existing && existing.interaction === uid && existing.tenantId === tenantId) return existing;
    const created = await deps.sessions.create(tenantId, { interaction: uid });
    reply.header('set-cookie', deps.sessions.cookie(created.id));
    return created;
  };

  const postedSession = async (req: FastifyRequest, uid: string): Promise<LoginSession | undefined> => {
    const session = await deps.sessions.get(deps.sessions.idFromCookieHeader(req.headers.cookie));
    const form = req.body as Form;
    return session && session.interaction === uid && checkCsrf(session, form[CSRF_FIELD])
      ? session
      : undefined;
  };

  const paths = (uid: string) => ({
    login: `/interaction/${uid}/login`,
    secondFactor: `/interaction/${uid}/second-factor`,
    consent: `/interaction/${uid}/consent`,
  });

  app.get<{ Params: { uid: string } }>(
    '/interaction/:uid',
    { schema: { hide: true } },
    async (req, reply) => {
      const { interaction, tenantId, clientName, origins } = await details(req, reply);
      const session = await sessionFor(req, reply, interaction.uid, tenantId);
      const csrfToken = issueCsrf(session);
      if (interaction.prompt.name === 'login') {
        return render(
          reply,
          loginPage({ action: paths(interaction.uid).login, csrfToken, clientName }),
          origins,
        );
      }
      const scopes = String(interaction.params.scope ?? '')
        .split(' ')
        .filter(Boolean)
        .map((name) => ({ name }));
      const payment = requestedPayment(interaction.params);
      if (payment && !twoFactor(interaction.session)) {
        return render(
          reply,
          messagePage({
            title: 'Two factors needed',
            message: 'Approving a payment needs a second factor. Set one up, then start again from the app.',
          }),
          origins,
          403,
        );
      }
      return render(
        reply,
        consentPage({
          action: paths(interaction.uid).consent,
          csrfToken,
          clientName,
          scopes,
          ...(payment
            ? {
                payment: {
                  amountMinor: fromDecimal(
                    payment.instructedAmount.amount,
                    payment.instructedAmount.currency,
                  )!,
                  currency: payment.instructedAmount.currency,
                  payee: { name: payment.creditorName, account: payment.creditorAccount.iban },
                  reference: payment.paymentId,
                },
              }
            : {}),
        }),
        origins,
      );
    },
  );

  app.post<{ Params: { uid: string } }>(
    '/interaction/:uid/login',
    { schema: { hide: true } },
    async (req, reply) => {
      const { interaction, tenantId, clientName, origins } = await details(req, reply);
      const session = await postedSession(req, interaction.uid);
      if (!session) {
        const fresh = await sessionFor(req, reply, interaction.uid, tenantId);
        const page = loginPage({
          action: paths(interaction.uid).login,
          csrfToken: issueCsrf(fresh),
          error: 'expired',
          clientName,
        });
        return render(reply, page, origins, 400);
      }
      const form = req.body as Form;
      const username = form.username ?? '';
      const result = await deps.people.authenticate(tenantId, { username, password: form.password ?? '' });
      if (result.status !== 'second-factor') {
        deps.onSignIn?.({
          tenantId,
          clientId: String(interaction.params.client_id),
          ip: req.ip,
          outcome: result.status,
          ...(result.status === 'success' ? { userId: result.userId } : { username }),
        });
      }
      const csrfToken = issueCsrf(session);
      switch (result.status) {
        case 'second-factor':
          await deps.sessions.update(session, { pending: result.pending });
          return render(
            reply,
            secondFactorPage({ action: paths(interaction.uid).secondFactor, csrfToken }),
            origins,
          );
        case 'success':
          return finishLogin(req, reply, session, result.userId, result.acr, result.amr);
        case 'locked':
          return render(
            reply,
            loginPage({ action: paths(interaction.uid).login, csrfToken, error: 'locked', clientName }),
            origins,
            401,
          );
        default:
          return render(
            reply,
            loginPage({
              action: paths(interaction.uid).login,
              csrfToken,
              error: 'failed',
              warning: result.warning,
              username,
              clientName,
            }),
            origins,
            401,
          );
      }
    },
  );

  app.post<{ Params: { uid: string } }>(
    '/interaction/:uid/second-factor',
    { schema: { hide: true } },
    async (req, reply) => {
      const { interaction, tenantId, clientName, origins } = await details(req, reply);
      const session = await postedSession(req, interaction.uid);
      const pending = session?.pending;
      if (!session || !pending) {
        const fresh = await sessionFor(req, reply, interaction.uid, tenantId);
        const page = loginPage({
          action: paths(interaction.uid).login,
          csrfToken: issueCsrf(fresh),
          error: 'expired',
          clientName,
        });
        return render(reply, page, origins, 400);
      }
      // The pending step is single use whatever happens next.
      await deps.sessions.update(session, { pending: undefined });
      const result = await deps.people.verifySecondFactor(tenantId, pending, {
        kind: 'code',
        code: (req.body as Form).code ?? '',
      });
      if (result.status !== 'second-factor') {
        // Unknown usernames are named by their blind index (`pending.key`), never by the name.
        deps.onSignIn?.({
          tenantId,
          clientId: String(interaction.params.client_id),
          ip: req.ip,
          outcome: result.status,
          ...(pending.userId ? { userId: pending.userId } : { username: `key:${pending.key}` }),
        });
      }
      if (result.status === 'success')
        return finishLogin(req, reply, session, result.userId, result.acr, result.amr);
      const csrfToken = issueCsrf(session);
      const error = result.status === 'locked' ? 'locked' : 'failed';
      const warning = result.status === 'failure' && result.warning;
      return render(
        reply,
        loginPage({ action: paths(interaction.uid).login, csrfToken, error, warning, clientName }),
        origins,
        401,
      );
    },
  );

  const finishLogin = async (
    req: FastifyRequest,
    reply: FastifyReply,
    session: LoginSession,
    userId: string,
    acr: string,
    amr: readonly string[],
  ) => {
    // A new session id after authentication (session fixation, OWASP ASVS V3.2.1).
    const rotated = await deps.sessions.rotate(session, {
      userId,
      amr: [...amr] as never,
      authTime: Date.now(),
    });
    reply.raw.setHeader('set-cookie', deps.sessions.cookie(rotated.id));
    reply.hijack();
    await deps
      .provider()
      .interactionFinished(
        req.raw,
        reply.raw,
        { login: { accountId: userId, acr, amr: [...amr], remember: false } },
        { mergeWithLastSubmission: false },
      );
  };

  app.post<{ Params: { uid: string } }>(
    '/interaction/:uid/consent',
    { schema: { hide: true } },
    async (req, reply) => {
      const { provider, interaction, origins } = await details(req, reply);
      const session = await postedSession(req, interaction.uid);
      if (!session || interaction.prompt.name !== 'consent' || !interaction.session?.accountId) {
        return render(
          reply,
          messagePage({ title: 'Session expired', message: 'Please start again from the app.' }),
          origins,
          400,
        );
      }
      reply.hijack();
      if ((req.body as Form).decision !== 'approve') {
        await provider.interactionFinished(req.raw, reply.raw, {
          error: 'access_denied',
          error_description: 'declined',
        });
        return;
      }
      const accountId = interaction.session.accountId;
      const grant = interaction.grantId
        ? ((await provider.Grant.find(interaction.grantId)) ??
          new provider.Grant({ accountId, clientId: String(interaction.params.client_id) }))
        : new provider.Grant({ accountId, clientId: String(interaction.params.client_id) });
      const missing = interaction.prompt.details as {
        missingOIDCScope?: string[];
        missingOIDCClaims?: string[];
        missingResourceScopes?: Record<string, string[]>;
      };
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
      // The payment shown on the page, exactly as requested, becomes the grant's only detail.
      const payment = requestedPayment(interaction.params);
      if (payment) {
        if (!twoFactor(interaction.session)) {
          await provider.interactionFinished(req.raw, reply.raw, {
            error: 'access_denied',
            error_description: 'a payment needs two factors',
          });
          return;
        }
        grant.rar = [];
        grant.addRar({ ...payment });
      }
      const grantId = await grant.save();
      await provider.interactionFinished(
        req.raw,
        reply.raw,
        { consent: { grantId } },
        { mergeWithLastSubmission: true },
      );
    },
  );
}
