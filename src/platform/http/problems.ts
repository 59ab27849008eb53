import type { FastifyInstance } from 'fastify';
import { HttpErrors, PROBLEM_CONTENT_TYPE, problemFor, toProblem } from '../errors/index.ts';

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
