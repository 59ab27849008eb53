import { defineErrors } from './registry.ts';

/** Errors of the HTTP layer itself, shared by every face. */
export const HttpErrors = defineErrors({
  ROUTE_NOT_FOUND: { status: 404, title: 'No such route' },
  REQUEST_MALFORMED_JSON: { status: 400, title: 'The request body is not valid JSON' },
  REQUEST_FORBIDDEN_JSON_KEY: {
    status: 400,
    title: 'The request body uses a forbidden key (__proto__ or constructor.prototype)',
  },
  REQUEST_INVALID: { status: 400, title: 'The request is malformed' },
  REQUEST_JSON_TOO_COMPLEX: {
    status: 400,
    title: 'The JSON body is nested too deeply or has too many members, items or too long a string',
  },
  REQUEST_DUPLICATE_JSON_KEY: { status: 400, title: 'The JSON body repeats a key within one object' },
  REQUEST_HEADERS_TOO_LARGE: { status: 431, title: 'Too many request headers, or headers too large' },
  REQUEST_TIMEOUT: { status: 408, title: 'The request was not received in time' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed' },
  REQUEST_VALIDATION_FAILED: { status: 400, title: 'The request does not match the schema' },
  REQUEST_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported content type' },
  REQUEST_BODY_TOO_LARGE: { status: 413, title: 'The request body is too large' },
  AUTH_REQUIRED: { status: 401, title: 'Authentication is required' },
  AUTH_INVALID_CREDENTIALS: { status: 401, title: 'The credentials are not valid' },
  SERVICE_SHUTTING_DOWN: { status: 503, title: 'The server is shutting down' },
  INTERNAL_ERROR: { status: 500, title: 'Internal error' },
});
