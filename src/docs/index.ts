import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/index.ts';

const VERSION = '0.1.0';

/**
 * OpenAPI 3.1 description generated from the route schemas. Registered before any route so the
 * generator sees them all; the document itself is public (it is what partners integrate against).
 */
export async function registerApiDescription(app: FastifyInstance, config: Config): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Bulwark API',
        version: VERSION,
        description:
          'Security-first Banking-as-a-Service for insurers. Every error is RFC 9457 problem+json with a stable `code` (see docs/errors.md).',
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      },
      servers: [{ url: config.publicUrl }],
      components: {
        securitySchemes: {
          dpop: {
            type: 'http',
            scheme: 'DPoP',
            description:
              'Access token from /oauth/token (client_credentials with private_key_jwt), sent as `Authorization: DPoP <token>` with a `DPoP` proof header (RFC 9449); or certificate-bound (RFC 8705).',
          },
          bootstrapAdmin: {
            type: 'http',
            scheme: 'bearer',
            description: 'Bootstrap admin token from BULWARK_BOOTSTRAP_ADMIN_TOKENS (admin API only).',
          },
        },
      },
    },
    hideUntagged: false,
  });
}

/** Routes that serve the description: `/openapi.json` and the interactive reference at `/docs`. */
export async function apiDescriptionRoutes(app: FastifyInstance, config: Config): Promise<void> {
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: true,
    // On a plain-HTTP development server, upgrade-insecure-requests would send the page's own
    // scripts and styles to an https:// origin that does not exist.
    ...(config.publicUrl.startsWith('https://')
      ? {}
      : { transformStaticCSP: (header: string) => header.replace(/\s*upgrade-insecure-requests;?/, '') }),
    uiConfig: { url: '/openapi.json', deepLinking: true, tryItOutEnabled: false },
  });
}
