import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { appendAudit } from '../../audit/index.ts';
import { operatorActor } from '../../gateway/admin-auth.ts';
import { AppError } from '../../platform/errors/index.ts';
import { problems, Uuid } from '../../platform/http/schemas.ts';
import { TenantError } from '../../tenants/errors.ts';
import type { TenantService } from '../../tenants/index.ts';
import type { ScaService, ScaSettings } from './service.ts';

const Settings = Type.Object(
  {
    currency: Type.String({
      pattern: '^[A-Z]{3}$',
      description: 'ISO 4217: the exemption applies in this currency only',
    }),
    lowValueLimit: Type.Integer({
      minimum: 0,
      maximum: 1e12,
      description: 'Minor units: a single exempt payment at most this',
    }),
    cumulativeLimit: Type.Integer({
      minimum: 0,
      maximum: 1e12,
      description: 'Minor units since the last SCA',
    }),
    countLimit: Type.Integer({ minimum: 0, maximum: 100, description: 'Exempt payments since the last SCA' }),
    mode: Type.Union([
      Type.Literal('cumulative_amount'),
      Type.Literal('consecutive_count'),
      Type.Literal('both'),
      Type.Literal('disabled'),
    ]),
  },
  { additionalProperties: false },
);
const Params = Type.Object({ tenantId: Uuid }, { additionalProperties: false });
const admin = { tags: ['admin: strong customer authentication'], security: [{ bootstrapAdmin: [] }] };

const toJson = (s: ScaSettings) => ({
  currency: s.currency,
  lowValueLimit: Number(s.lowValueLimit),
  cumulativeLimit: Number(s.cumulativeLimit),
  countLimit: s.countLimit,
  mode: s.mode,
});

/**
 * A tenant's low-value SCA exemption (PSD2 RTS Art. 16). Mount under
 * `/admin/tenants/:tenantId/sca` in the admin context.
 */
export const scaAdminRoutes: FastifyPluginAsyncTypebox<{
  service: ScaService;
  tenants: TenantService;
}> = async (app, { service, tenants }) => {
  const tenantExists = async (tenantId: string) => {
    await tenants.getTenant(tenantId).catch((err: unknown) => {
      throw err instanceof TenantError ? new AppError(err.code) : err;
    });
  };
  app.get(
    '/',
    {
      schema: {
        ...admin,
        summary: "The tenant's low-value exemption settings (RTS defaults if never set)",
        params: Params,
        response: { 200: Settings, ...problems(404) },
      },
    },
    async (req) => {
      await tenantExists(req.params.tenantId);
      return toJson(await service.settings(req.params.tenantId));
    },
  );
  app.put(
    '/',
    {
      schema: {
        ...admin,
        summary: "Replace the tenant's low-value exemption settings (never looser than the RTS)",
        params: Params,
        body: Settings,
        response: { 200: Settings, ...problems(400, 404) },
      },
    },
    async (req) => {
      const { tenantId } = req.params;
      await tenantExists(tenantId);
      const saved = await app.services.db.withTenant(tenantId, async (tx) => {
        const s = await service.setSettings(tx, tenantId, {
          ...req.body,
          lowValueLimit: BigInt(req.body.lowValueLimit),
          cumulativeLimit: BigInt(req.body.cumulativeLimit),
        });
        await appendAudit(tx, {
          actor: operatorActor(req),
          action: 'admin.sca.settings_changed',
          object: { type: 'tenant', id: tenantId },
          tenantId,
          outcome: 'success',
          requestId: req.id,
          details: toJson(s),
        });
        return s;
      });
      return toJson(saved);
    },
  );
};
