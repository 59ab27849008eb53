import type { IncomingMessage } from 'node:http';
import { uuidv7 } from '../ids.ts';

export const REQUEST_ID_HEADER = 'x-request-id';
/** What we accept from a caller: short, printable, no separators that could forge log lines. */
const WELL_FORMED = /^[A-Za-z0-9._:-]{8,128}$/;

/** Keep a caller's well-formed X-Request-Id (so traces join up across systems); otherwise mint one. */
export function requestId(req: IncomingMessage): string {
  const given = req.headers[REQUEST_ID_HEADER];
  return typeof given === 'string' && WELL_FORMED.test(given) ? given : uuidv7();
}
