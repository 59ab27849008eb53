/** `npm run client:generate`: writes clients/typescript/src/schema.ts from this build's /v1 OpenAPI. */
import { writeFileSync } from 'node:fs';
import { CLIENT_SCHEMA_PATH, clientSchemaSource, v1Document } from './client-schema.ts';

const source = clientSchemaSource(await v1Document());
writeFileSync(CLIENT_SCHEMA_PATH, source);
process.stdout.write(`wrote ${CLIENT_SCHEMA_PATH} (${source.length} bytes)\n`);
