import { Ajv, type Options } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

/**
 * Two validators, compiled once per route at boot. JSON bodies are validated strictly: unknown
 * properties are refused (schemas say `additionalProperties: false`) and nothing is coerced, so
 * `"5"` never becomes 5. Path, query and header values are text by nature, so those parts alone
 * may convert text to the declared scalar type.
 */
function makeAjv(coerceTypes: boolean): Ajv {
  const options: Options = {
    removeAdditional: false,
    coerceTypes,
    useDefaults: true,
    allErrors: false,
    strict: true,
    strictTypes: false,
    allowUnionTypes: true,
  };
  const ajv = new Ajv(options);
  addFormats.default(ajv);
  return ajv;
}

export function validatorCompiler(): FastifySchemaCompiler<unknown> {
  const body = makeAjv(false);
  const text = makeAjv(true);
  return ({ schema, httpPart }) => (httpPart === 'body' ? body : text).compile(schema as object);
}
