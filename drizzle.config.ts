import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  // Each module may keep its tables in its own schema.ts; one migration set covers them all.
  schema: [
    './src/platform/db/schema.ts',
    './src/identity/schema.ts',
    './src/identity/people/schema.ts',
    './src/audit/schema.ts',
    './src/gateway/ip-rules/schema.ts',
    './src/siem/schema.ts',
    './src/identity/sca/schema.ts',
    './src/ledger/schema.ts',
    './src/gateway/idempotency/schema.ts',
    './src/insurance/schema.ts',
    './src/webhooks/schema.ts',
    './src/kyc/schema.ts',
    './src/payments/schema.ts',
    './src/detection/schema.ts',
    './src/identity/operators/schema.ts',
    './src/privacy/schema.ts',
    './src/gateway/versioning/schema.ts',
    './src/compliance/schema.ts',
  ],
  out: './drizzle',
  entities: { roles: { provider: '' } },
});
