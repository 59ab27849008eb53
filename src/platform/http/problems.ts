import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { HttpErrors, PROBLEM_CONTENT_TYPE, problemFor, toProblem } from '../errors/index.ts';
import { uuidv7 } from '../ids.ts';

/**
 * Every error leaves as RFC 9457 problem+json with a stable code and the request id. Internal
 * errors are logged whole and answered with a generic 500: no stack, SQL or path reaches the caller.
 */
export function installProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err, req, reply) => {
    const { problem, internal } = toProblem(err, req.id);
    if (internal) req.log.error({ err }, 'unhandled error');
    else if (problem.status >= 500) req.log.warn({ code: problem.code }, problem.title);
    else req.log.info({ code: problem.code, status: problem.status }, 'request refused');
    if (problem.status === 401 && !reply.hasHeader('www-authenticate')) {
      reply.header('www-authenticate', 'Bearer');
    }
    return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(problem);
  });

  app.setNotFoundHandler((req, reply) => {
    const problem = problemFor(HttpErrors.ROUTE_NOT_FOUND, req.id);
    return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(problem);
  });
}

const CLIENT_ERROR_CODES: Record<string, string> = {
  HPE_HEADER_OVERFLOW: HttpErrors.REQUEST_HEADERS_TOO_LARGE,
  ERR_HTTP_REQUEST_TIMEOUT: HttpErrors.REQUEST_TIMEOUT,
};

/**
 * Errors Node's HTTP parser raises before Fastify sees a request (malformed request line or
 * headers, header overflow, slow clients). Answered as problem+json too, then the socket closes.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const code = (err.code && CLIENT_ERROR_CODES[err.code]) ?? HttpErrors.REQUEST_INVALID;
  const body = JSON.stringify(problemFor(code, uuidv7()));
  const status =
    code === HttpErrors.REQUEST_HEADERS_TOO_LARGE
      ? '431 Request Header Fields Too Large'
      : code === HttpErrors.REQUEST_TIMEOUT
        ? '408 Request Timeout'
        : '400 Bad Request';
  socket.end(
    `HTTP/1.1 ${status}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
