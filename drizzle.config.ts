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
  ],
  out: './drizzle',
  entities: { roles: { provider: '' } },
});
