import { mkdtempSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, runBulwark, startBulwark, waitFor } from './support/process.ts';

const tempDir = () => mkdtempSync(join(tmpdir(), 'bulwark-cli-'));

describe('bulwark command', { timeout: 180_000 }, () => {
  it('prints help and exits 0', async () => {
    const { code, output } = await runBulwark(['--help']);
    expect(code).toBe(0);
    expect(output).toContain('Usage: bulwark <command>');
    const serve = await runBulwark(['serve', '--help']);
    expect(serve.code).toBe(0);
    expect(serve.output).toContain('--data-dir');
  });

  it('exits 2 on an unknown command or flag', async () => {
    expect((await runBulwark(['frobnicate'])).code).toBe(2);
    const bad = await runBulwark(['serve', '--bogus']);
    expect(bad.code).toBe(2);
    expect(bad.output).toContain("Unknown option '--bogus'");
  });

  it('exits 2 on invalid configuration, naming the setting', async () => {
    const { code, output } = await runBulwark(['migrate'], {
      BULWARK_PORT: 'eighty',
      BULWARK_DATA_DIR: tempDir(),
    });
    expect(code).toBe(2);
    expect(output).toContain('BULWARK_PORT: invalid value "eighty"; expected an integer port 1-65535');
  });

  it('refuses to start in production with development defaults', async () => {
    const { code, output } = await runBulwark(['serve'], {
      NODE_ENV: 'production',
      BULWARK_DATA_DIR: tempDir(),
    });
    expect(code).toBe(2);
    expect(output).toContain('BULWARK_MASTER_KEYS: required in production');
    expect(output).toContain('production refuses plain HTTP');
  });

  it('migrates and seeds the embedded database idempotently', async () => {
    const dir = tempDir();
    const migrate = await runBulwark(['migrate', '--data-dir', dir]);
    expect(migrate.code, migrate.output).toBe(0);
    expect(migrate.output).toContain('Migrations up to date');
    const first = await runBulwark(['seed', '--demo', '--data-dir', dir]);
    expect(first.code, first.output).toBe(0);
    expect(first.output).toMatch(/private key {3}\{"kty":"EC"/);
    const second = await runBulwark(['seed', '--demo', '--data-dir', dir]);
    expect(second.code).toBe(0);
    expect(second.output).toContain('Demo data present');
    expect(second.output).not.toContain('"d":');
  });

  it('serves the demo on PGlite: becomes ready with the demo tenant, and drains on SIGTERM', async () => {
    const dir = tempDir();
    const port = await freePort();
    const server = startBulwark(['serve', '--demo', '--port', String(port), '--data-dir', dir], {
      BULWARK_LOG_LEVEL: 'warn',
    });
    try {
      // No timing assertion (speed is measured in bench/): a generous bound for a loaded machine.
      await waitFor(
        async () => ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200 ? true : undefined),
        90_000,
        `/readyz (output so far: ${server.output()})`,
      );
      const token = JSON.parse(readFileSync(join(dir, 'dev-secrets.json'), 'utf8')).bootstrapAdminToken;
      const tenants = await waitFor(
        async () => {
          const res = await fetch(`http://127.0.0.1:${port}/admin/tenants`, {
            headers: { authorization: `Bearer ${token}` },
          });
          const body = (await res.json()) as { items: { slug: string }[] };
          return body.items.some((t) => t.slug === 'demo-insurer') ? body.items : undefined;
        },
        10_000,
        'the demo tenant',
      );
      expect(tenants.map((t) => t.slug)).toContain('demo-insurer');
      expect(server.output()).toContain('private key');
    } finally {
      server.child.kill('SIGTERM');
    }
    expect(await server.exited).toBe(0);
  });

  it('finishes an in-flight request after SIGTERM before it exits', async () => {
    const dir = tempDir();
    const port = await freePort();
    const server = startBulwark(['serve', '--port', String(port), '--data-dir', dir], {
      BULWARK_LOG_LEVEL: 'warn',
    });
    try {
      await waitFor(
        async () => ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200 ? true : undefined),
        90_000,
        '/readyz',
      );
      const token = JSON.parse(readFileSync(join(dir, 'dev-secrets.json'), 'utf8')).bootstrapAdminToken;
      const body = JSON.stringify({ slug: 'in-flight', name: 'In flight' });
      const socket = connect(port, '127.0.0.1');
      await new Promise((r) => socket.once('connect', r));
      let response = '';
      socket.on('data', (d) => {
        response += d;
      });
      const closed = new Promise((r) => socket.once('close', r));
      // Headers and half the body: the request is in flight when the signal arrives.
      socket.write(
        `POST /admin/tenants HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${token}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
      );
      await new Promise((r) => setTimeout(r, 300));
      server.child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 300));
      socket.write(body.slice(10));
      await closed;
      expect(response).toMatch(/^HTTP\/1\.1 201/);
      expect(await server.exited, server.output()).toBe(0);
      // and the new tenant was committed
      const check = await runBulwark(['seed', '--demo', '--data-dir', dir]);
      expect(check.code).toBe(0);
    } finally {
      server.child.kill('SIGKILL');
    }
  });
});
