/**
 * A webhook receiver for tests: a real HTTP server on 127.0.0.1 that records each delivery and
 * checks both of its signatures the way a partner would (HMAC with the subscription secret, RFC
 * 9421 with Bulwark's published webhook keys). The app under test needs
 * `BULWARK_WEBHOOK_ALLOW_HTTP=true` and `BULWARK_WEBHOOK_ALLOWED_CIDRS=127.0.0.1/32`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SIGNATURE_HEADER, verifyHmacHeader, verifyMessageSignature } from '../../src/webhooks/signature.ts';

export interface ReceivedWebhook {
  readonly headers: Record<string, string>;
  readonly body: string;
  /** The parsed body: `{ id, type, occurredAt, tenantId, data }`. */
  // biome-ignore lint/suspicious/noExplicitAny: test payloads are read loosely
  readonly json: any;
}

export interface WebhookReceiver {
  /** `http://127.0.0.1:<port>/webhooks`: the URL to subscribe. */
  readonly url: string;
  readonly received: ReceivedWebhook[];
  /** Statuses to answer with, in order; 200 once empty. */
  readonly statuses: number[];
  /** Resolves once a delivery matching `pred` has arrived (fails after `timeoutMs`). */
  waitFor(pred: (w: ReceivedWebhook) => boolean, timeoutMs?: number): Promise<ReceivedWebhook>;
  /** Both signature checks of one delivery, e.g. `{ hmac: 'ok', message: 'ok' }`. */
  verify(
    w: ReceivedWebhook,
    secrets: readonly string[],
    issuer: string,
  ): Promise<{ hmac: string; message: string }>;
  close(): Promise<void>;
}

export async function webhookReceiver(): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const statuses: number[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {}
      received.push({ headers, body, json });
      res.writeHead(statuses.shift() ?? 200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks`;
  return {
    url,
    received,
    statuses,
    async waitFor(pred, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = received.find(pred);
        if (hit) return hit;
        if (Date.now() > deadline) throw new Error('timed out waiting for a webhook delivery');
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async verify(w, secrets, issuer) {
      const now = Math.floor(Date.now() / 1000);
      const jwks = (await (await fetch(`${issuer}/.well-known/webhook-keys.json`)).json()) as {
        keys: Record<string, unknown>[];
      };
      return {
        hmac: verifyHmacHeader(w.headers[SIGNATURE_HEADER] ?? '', w.body, secrets, now),
        message: verifyMessageSignature(
          { method: 'POST', targetUri: url, headers: w.headers },
          w.body,
          jwks,
          now,
        ),
      };
    },
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
