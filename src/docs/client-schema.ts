/**
 * The TypeScript client's types (`clients/typescript/src/schema.ts`), generated from the /v1 OpenAPI
 * document of this build: one entry per operation (`'POST /v1/payouts'`) with its path, query,
 * body and success-response types. `npm run client:generate` writes the file; test/client-sdk.test.ts
 * checks the committed file is what this build would generate.
 *
 * A deliberately small JSON Schema → TypeScript translation: objects (required / optional
 * properties, `additionalProperties`), arrays, enums, const, anyOf / oneOf (unions), allOf
 * (intersections), nullable, `$ref` to components, strings (format noted in the doc comment),
 * integers and numbers. Anything else becomes `unknown`.
 */
import { buildApp } from '../app.ts';
import { loadConfig } from '../config/index.ts';
import { createLogger } from '../platform/log.ts';

export const CLIENT_SCHEMA_PATH = 'clients/typescript/src/schema.ts';

type Json = Record<string, unknown>;
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/** The /v1 OpenAPI document of this build, from an app built in memory and closed again. */
export async function v1Document(): Promise<Json> {
  const config = loadConfig({
    env: { NODE_ENV: 'development', BULWARK_DATA_DIR: 'memory://', BULWARK_LOG_LEVEL: 'silent' },
  });
  const app = await buildApp(config, { logger: createLogger('silent') });
  try {
    await app.ready();
    const res = await app.inject({ method: 'GET', url: '/openapi/v1.json' });
    if (res.statusCode !== 200) throw new Error(`GET /openapi/v1.json: ${res.statusCode}`);
    return res.json() as Json;
  } finally {
    await app.close();
  }
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const key = (k: string) => (IDENT.test(k) ? k : JSON.stringify(k));

function comment(lines: readonly (string | undefined)[], indent: string): string {
  const text = lines
    .filter((l): l is string => !!l)
    .join('\n')
    .replaceAll('*/', '*\\/')
    .split('\n');
  if (text.length === 0 || (text.length === 1 && text[0] === '')) return '';
  if (text.length === 1) return `${indent}/** ${text[0]} */\n`;
  return `${indent}/**\n${text.map((l) => `${indent} *${l ? ` ${l}` : ''}`).join('\n')}\n${indent} */\n`;
}

function schemaNotes(s: Json): string | undefined {
  const notes: string[] = [];
  if (typeof s.description === 'string') notes.push(s.description);
  if (typeof s.format === 'string') notes.push(`Format: ${s.format}.`);
  if (s.default !== undefined) notes.push(`Default: ${JSON.stringify(s.default)}.`);
  return notes.length ? notes.join(' ') : undefined;
}

const paren = (t: string) => (/[|&]/.test(t) && !/^[({[]/.test(t) ? `(${t})` : t);

function union(types: readonly string[]): string {
  const unique = [...new Set(types)];
  if (unique.includes('unknown')) return 'unknown';
  return unique.length ? unique.join(' | ') : 'never';
}

/** The TypeScript type of a JSON Schema, `indent` being the indentation of the line it starts on. */
export function typeOf(schema: unknown, indent = ''): string {
  if (schema === true || schema === undefined) return 'unknown';
  if (schema === false) return 'never';
  const s = schema as Json;
  if (typeof s.$ref === 'string') {
    const m = /^#\/components\/schemas\/(.+)$/.exec(s.$ref);
    return m ? `Components[${JSON.stringify(m[1])}]` : 'unknown';
  }
  let t: string;
  if (s.const !== undefined) t = JSON.stringify(s.const);
  else if (Array.isArray(s.enum)) t = union(s.enum.map((v) => JSON.stringify(v)));
  else if (Array.isArray(s.anyOf) || Array.isArray(s.oneOf))
    t = union(((s.anyOf ?? s.oneOf) as unknown[]).map((x) => paren(typeOf(x, indent))));
  else if (Array.isArray(s.allOf)) t = s.allOf.map((x) => paren(typeOf(x, indent))).join(' & ') || 'unknown';
  else if (Array.isArray(s.type)) t = union(s.type.map((ty) => paren(typeOf({ ...s, type: ty }, indent))));
  else
    switch (s.type) {
      case 'string':
        t = 'string';
        break;
      case 'integer':
      case 'number':
        t = 'number';
        break;
      case 'boolean':
        t = 'boolean';
        break;
      case 'null':
        t = 'null';
        break;
      case 'array':
        t = Array.isArray(s.prefixItems)
          ? `[${s.prefixItems.map((x) => typeOf(x, indent)).join(', ')}]`
          : `${paren(typeOf(s.items, indent))}[]`;
        break;
      case 'object':
        t = objectType(s, indent);
        break;
      default:
        t = s.properties ? objectType(s, indent) : 'unknown';
    }
  return s.nullable === true && t !== 'unknown' ? `${t} | null` : t;
}

function objectType(s: Json, indent: string): string {
  const props = (s.properties ?? {}) as Record<string, Json>;
  const required = new Set((s.required ?? []) as string[]);
  const inner = `${indent}  `;
  const lines: string[] = [];
  for (const [name, prop] of Object.entries(props)) {
    lines.push(
      `${comment([schemaNotes(prop)], inner)}${inner}${key(name)}${required.has(name) ? '' : '?'}: ${typeOf(prop, inner)};\n`,
    );
  }
  const extra = s.additionalProperties;
  if (extra !== false && (extra !== undefined || s.patternProperties || !s.properties)) {
    // Declared properties must fit the index signature: with named properties the rest is unknown.
    const value = lines.length || extra === undefined || extra === true ? 'unknown' : typeOf(extra, inner);
    if (!lines.length && value !== 'unknown') return `Record<string, ${value}>`;
    lines.push(`${inner}[key: string]: unknown;\n`);
  }
  if (!lines.length) return 'Record<string, never>';
  return `{\n${lines.join('')}${indent}}`;
}

interface Parameter {
  readonly in: string;
  readonly name: string;
  readonly required?: boolean;
  readonly description?: string;
  readonly schema?: Json;
}

function paramsType(params: readonly Parameter[], indent: string): { type: string; required: boolean } {
  const inner = `${indent}  `;
  let anyRequired = false;
  const lines = params.map((p) => {
    // A parameter with a default is optional to send, whatever `required` says.
    const required = p.required === true && p.schema?.default === undefined;
    anyRequired ||= required;
    const notes = [p.description, p.schema ? schemaNotes(p.schema) : undefined];
    return `${comment(notes, inner)}${inner}${key(p.name)}${required ? '' : '?'}: ${typeOf(p.schema, inner)};\n`;
  });
  return { type: `{\n${lines.join('')}${indent}}`, required: anyRequired };
}

function jsonSchemaOf(content: unknown): Json | undefined {
  const c = content as Record<string, { schema?: Json }> | undefined;
  if (!c) return undefined;
  const entry = c['application/json'] ?? c['application/problem+json'] ?? Object.values(c)[0];
  return entry?.schema ?? {};
}

/** `clients/typescript/src/schema.ts` for this OpenAPI document. */
export function clientSchemaSource(doc: Json): string {
  const out: string[] = [];
  const info = (doc.info ?? {}) as Json;
  out.push(
    '// Generated by `npm run client:generate` from the Bulwark OpenAPI document. Do not edit by hand.',
    `// ${String(info.title ?? 'Bulwark API')} ${String(info.version ?? '')}`.trimEnd(),
    '/* eslint-disable */',
    '',
  );
  const idempotentKeys: string[] = [];
  const ops: string[] = [];
  const paths = (doc.paths ?? {}) as Record<string, Record<string, unknown>>;
  const I = '    ';
  for (const path of Object.keys(paths).sort()) {
    const item = paths[path]!;
    const shared = (item.parameters ?? []) as Parameter[];
    for (const method of HTTP_METHODS) {
      const op = item[method] as Json | undefined;
      if (!op) continue;
      const opKey = `${method.toUpperCase()} ${path}`;
      const params = [...shared, ...((op.parameters ?? []) as Parameter[])];
      const pathParams = paramsType(
        params.filter((p) => p.in === 'path'),
        `${I}  `,
      );
      const queryParams = paramsType(
        params.filter((p) => p.in === 'query'),
        `${I}  `,
      );
      const idempotent = params.some((p) => p.in === 'header' && p.name.toLowerCase() === 'idempotency-key');
      if (idempotent) idempotentKeys.push(opKey);
      const body = op.requestBody as Json | undefined;
      const bodySchema = body ? jsonSchemaOf(body.content) : undefined;
      const bodyRequired = body?.required === true;
      const responses = (op.responses ?? {}) as Record<string, Json>;
      const success = Object.keys(responses)
        .filter((code) => /^2\d\d$/.test(code))
        .sort()
        .map((code) => {
          const schema = jsonSchemaOf(responses[code]!.content);
          return schema ? typeOf(schema, I) : 'undefined';
        });
      const inputMembers: string[] = [];
      const p = (name: string, req: boolean, t: string) => `${I}  ${name}${req ? '' : '?'}: ${t};\n`;
      if (params.some((x) => x.in === 'path'))
        inputMembers.push(p('path', pathParams.required, pathParams.type));
      if (params.some((x) => x.in === 'query'))
        inputMembers.push(p('query', queryParams.required, queryParams.type));
      if (bodySchema) inputMembers.push(p('body', bodyRequired, typeOf(bodySchema, `${I}  `)));
      if (idempotent)
        inputMembers.push(
          `${I}  /** Idempotency-Key; the client generates one when absent. */\n${p('idempotencyKey', false, 'string')}`,
        );
      inputMembers.push(
        `${I}  /** Extra request headers. */\n${p('headers', false, 'Record<string, string>')}`,
      );
      const inputRequired = pathParams.required || queryParams.required || (!!bodySchema && bodyRequired);
      const lifecycle = (op['x-bulwark-lifecycle'] ?? {}) as Json;
      const doc2 = [
        typeof op.summary === 'string' ? op.summary : undefined,
        typeof op.description === 'string' ? `\n${op.description}` : undefined,
        op.deprecated === true ? '@deprecated' : undefined,
      ];
      ops.push(
        `${comment(doc2, '  ')}  ${JSON.stringify(opKey)}: {\n` +
          `${I}method: ${JSON.stringify(method.toUpperCase())};\n` +
          `${I}path: ${JSON.stringify(path)};\n` +
          `${I}idempotent: ${idempotent};\n` +
          `${I}status: ${JSON.stringify(String(lifecycle.status ?? 'stable'))};\n` +
          `${I}input: {\n${inputMembers.join('')}${I}};\n` +
          `${I}args: ${inputRequired ? `[input: Operations[${JSON.stringify(opKey)}]['input']]` : `[input?: Operations[${JSON.stringify(opKey)}]['input']]`};\n` +
          `${I}response: ${union(success.length ? success : ['undefined'])};\n` +
          '  };\n',
      );
    }
  }
  const refs = new Set<string>();
  JSON.stringify(doc.paths, (k, v) => {
    if (k === '$ref' && typeof v === 'string') refs.add(v.replace('#/components/schemas/', ''));
    return v;
  });
  const schemas = ((doc.components as Json | undefined)?.schemas ?? {}) as Record<string, Json>;
  out.push('/** Named schemas referenced by the operations. */');
  if (refs.size === 0) out.push('export type Components = Record<string, never>;');
  else {
    out.push('export interface Components {');
    for (const name of [...refs].sort())
      out.push(`  ${JSON.stringify(name)}: ${typeOf(schemas[name], '  ')};`);
    out.push('}');
  }
  out.push(
    '',
    '/** Every /v1 operation, keyed by `METHOD /path` as in the OpenAPI document. */',
    'export interface Operations {',
  );
  out.push(ops.join('').trimEnd());
  out.push('}', '');
  out.push('export type OperationKey = keyof Operations;', '');
  out.push('/** Operations that take an Idempotency-Key (money-moving POSTs). */');
  out.push('export const IDEMPOTENT_OPERATIONS: ReadonlySet<OperationKey> = new Set<OperationKey>([');
  for (const k of idempotentKeys) out.push(`  ${JSON.stringify(k)},`);
  out.push(']);', '');
  return out.join('\n');
}
