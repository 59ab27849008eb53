import { AppError } from './app-error.ts';
import { HttpErrors } from './codes.ts';
import { errorSpec } from './registry.ts';

/** RFC 9457 problem details, plus our stable `code` and the request id. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail?: string;
  requestId: string;
  errors?: { path: string; message: string }[];
  [extra: string]: unknown;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

export function problemType(code: string): string {
  return `urn:bulwark:error:${code}`;
}

export function problemFor(
  code: string,
  requestId: string,
  detail?: string,
  extra?: Record<string, unknown>,
): Problem {
  const spec = errorSpec(code) ?? errorSpec(HttpErrors.INTERNAL_ERROR)!;
  return {
    ...extra,
    type: problemType(code),
    title: spec.title,
    status: spec.status,
    code,
    ...(detail ? { detail } : {}),
    requestId,
  };
}

interface FastifyLikeError {
  code?: string;
  statusCode?: number;
  message?: string;
  validation?: readonly { instancePath?: string; message?: string; params?: Record<string, unknown> }[];
  validationContext?: string;
}

/**
 * Map anything thrown to a problem. Only AppError and the framework's own client errors are
 * described; every other error is internal and yields a generic 500 (DESIGN invariant 5).
 */
export function toProblem(err: unknown, requestId: string): { problem: Problem; internal: boolean } {
  if (err instanceof AppError) {
    return {
      problem: problemFor(err.code, requestId, err.detail, err.extra as Record<string, unknown>),
      internal: false,
    };
  }
  const e = (err ?? {}) as FastifyLikeError;
  if (e.validation) {
    const where = e.validationContext ?? 'body';
    const errors = e.validation.slice(0, 20).map((v) => {
      const extraProp = v.params?.additionalProperty;
      const path = `${where}${v.instancePath ?? ''}${typeof extraProp === 'string' ? `/${extraProp}` : ''}`;
      return { path, message: v.message ?? 'invalid' };
    });
    return {
      problem: problemFor(HttpErrors.REQUEST_VALIDATION_FAILED, requestId, `Invalid ${where}`, { errors }),
      internal: false,
    };
  }
  const byCode: Record<string, string> = {
    FST_ERR_CTP_BODY_TOO_LARGE: HttpErrors.REQUEST_BODY_TOO_LARGE,
    FST_ERR_CTP_INVALID_MEDIA_TYPE: HttpErrors.REQUEST_UNSUPPORTED_MEDIA_TYPE,
    FST_ERR_CTP_EMPTY_JSON_BODY: HttpErrors.REQUEST_MALFORMED_JSON,
    FST_ERR_CTP_INVALID_JSON_BODY: HttpErrors.REQUEST_MALFORMED_JSON,
    FST_ERR_CTP_INVALID_CONTENT_LENGTH: HttpErrors.REQUEST_INVALID,
    FST_ERR_CTP_INVALID_TYPE: HttpErrors.REQUEST_UNSUPPORTED_MEDIA_TYPE,
  };
  const mapped = e.code ? byCode[e.code] : undefined;
  if (mapped) return { problem: problemFor(mapped, requestId), internal: false };
  if (e.statusCode === 400 && err instanceof SyntaxError) {
    const forbidden = /prototype/i.test(e.message ?? '');
    return {
      problem: problemFor(
        forbidden ? HttpErrors.REQUEST_FORBIDDEN_JSON_KEY : HttpErrors.REQUEST_MALFORMED_JSON,
        requestId,
      ),
      internal: false,
    };
  }
  if (e.statusCode === 413)
    return { problem: problemFor(HttpErrors.REQUEST_BODY_TOO_LARGE, requestId), internal: false };
  if (e.statusCode === 415) {
    return { problem: problemFor(HttpErrors.REQUEST_UNSUPPORTED_MEDIA_TYPE, requestId), internal: false };
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return { problem: problemFor(HttpErrors.REQUEST_INVALID, requestId), internal: false };
  }
  return { problem: problemFor(HttpErrors.INTERNAL_ERROR, requestId), internal: true };
}
