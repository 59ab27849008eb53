import { PassThrough, Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../platform/errors/index.ts';
import type { Decision, Inspection, Waf } from './engine.ts';
import { WafErrors } from './errors.ts';

export interface InstallWafOptions {
  /** Called for every request with at least one match (audit and detection feed). */
  readonly onDecision?: (req: FastifyRequest, decision: Decision) => void;
}

const kInspection = Symbol('bulwark.waf.inspection');
type WithInspection = FastifyRequest & { [kInspection]?: Inspection };

/**
 * Install the WAF as two hooks: `onRequest` judges the line, headers and cookies; `preParsing`
 * reads the body (bounded by the route's body limit), judges it, and hands Fastify a fresh stream
 * with the same bytes so the normal content-type parser runs afterwards. Blocking answers 403
 * problem+json `WAF_BLOCKED` with the rule ids, never the payload.
 */
export function installWaf(app: FastifyInstance, waf: Waf, opts: InstallWafOptions = {}): void {
  const report = (req: FastifyRequest, state: Inspection): Decision => {
    const decision = waf.decide(state);
    if (decision.matches.length > 0) {
      opts.onDecision?.(req, decision);
      if (decision.action !== 'allow') {
        req.log.warn(
          { waf: { action: decision.action, score: decision.score, ruleIds: decision.ruleIds } },
          'waf match',
        );
      }
    }
    return decision;
  };
  const block = (decision: Decision): AppError =>
    new AppError(WafErrors.WAF_BLOCKED, undefined, { ruleIds: decision.ruleIds });

  app.addHook('onRequest', async (req) => {
    const raw = req.raw;
    const state = waf.inspectHead(
      {
        method: raw.method ?? '',
        httpVersion: raw.httpVersion,
        url: raw.url ?? '/',
        rawHeaders: raw.rawHeaders,
      },
      req.routeOptions.url ?? '',
    );
    (req as WithInspection)[kInspection] = state;
    // Already over the threshold: answer now, without reading the body.
    if (waf.options.mode === 'block' && state.score >= waf.options.threshold) {
      (req as WithInspection)[kInspection] = undefined;
      throw block(report(req, state));
    }
  });

  app.addHook('preParsing', async (req, _reply: FastifyReply, payload) => {
    const state = (req as WithInspection)[kInspection];
    if (!state) return payload;
    (req as WithInspection)[kInspection] = undefined;
    const headers = req.headers;
    const declared = headers['content-length'];
    const hasBody =
      headers['transfer-encoding'] !== undefined || (declared !== undefined && declared !== '0');
    if (!hasBody) {
      const decision = report(req, state);
      if (decision.action === 'block') throw block(decision);
      return payload;
    }
    const limit = req.routeOptions.bodyLimit ?? app.initialConfig.bodyLimit ?? 1_048_576;
    // A declared length over the limit: leave the stream alone, Fastify answers 413 itself.
    if (declared !== undefined && Number(declared) > limit) {
      const decision = report(req, state);
      if (decision.action === 'block') throw block(decision);
      return payload;
    }
    const read = await readBounded(payload, limit);
    if (read.overflow) {
      // Give Fastify the bytes read so far followed by the rest: its own limit check answers 413.
      const decision = report(req, state);
      if (decision.action === 'block') throw block(decision);
      const rest = new PassThrough();
      rest.write(Buffer.concat(read.chunks));
      payload.pipe(rest);
      return rest;
    }
    const bytes = read.chunks.length === 1 ? read.chunks[0]! : Buffer.concat(read.chunks);
    const contentType = headers['content-type'];
    waf.inspectBody(state, { contentType, text: bytes.toString('utf8') });
    const decision = report(req, state);
    if (decision.action === 'block') throw block(decision);
    return Readable.from(bytes.length ? [bytes] : []);
  });
}

interface BoundedRead {
  chunks: Buffer[];
  overflow: boolean;
}

/** Read a stream until it ends or passes `limit` bytes; on overflow the stream is paused, not drained. */
function readBounded(stream: NodeJS.ReadableStream, limit: number): Promise<BoundedRead> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      stream.removeListener('data', onData);
      stream.removeListener('end', onEnd);
      stream.removeListener('error', onError);
      stream.removeListener('close', onClose);
    };
    const onData = (chunk: Buffer | string): void => {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      chunks.push(buf);
      size += buf.length;
      if (size > limit) {
        cleanup();
        stream.pause();
        resolve({ chunks, overflow: true });
      }
    };
    const onEnd = (): void => {
      cleanup();
      resolve({ chunks, overflow: false });
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onClose = (): void => {
      cleanup();
      reject(Object.assign(new Error('request aborted while reading the body'), { statusCode: 400 }));
    };
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('close', onClose);
  });
}
