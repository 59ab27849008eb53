import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/index.ts';
import { siemConfigProblems, sinksFromConfig } from './index.ts';

const PROD = {
  NODE_ENV: 'production',
  BULWARK_DATA_DIR: '/tmp/bulwark-siem-config-test',
  BULWARK_MASTER_KEYS: Buffer.alloc(32, 1).toString('base64'),
  BULWARK_BOOTSTRAP_ADMIN_TOKENS: 'x'.repeat(40),
  BULWARK_BEHIND_TLS_PROXY: 'true',
  BULWARK_PUBLIC_URL: 'https://api.example.com',
};

describe('SIEM settings', () => {
  it('every sink is off by default', () => {
    const c = loadConfig({ env: { BULWARK_DATA_DIR: 'memory://' } });
    expect(c).toMatchObject({
      siemNats: false,
      siemSyslogFormat: 'cef',
      siemHttpFormat: 'ocsf',
      siemBatchSize: 200,
    });
    expect(sinksFromConfig(c)).toEqual([]);
  });

  it('production refuses clear-text syslog off the machine unless allowed, and a non-https collector', () => {
    const plain = loadConfig({ env: { ...PROD, BULWARK_SIEM_SYSLOG_URL: 'tcp://siem.internal:601' } });
    expect(siemConfigProblems(plain).join('\n')).toMatch(
      /BULWARK_SIEM_SYSLOG_URL: production refuses tcp:\/\//,
    );
    expect(() => sinksFromConfig(plain)).toThrow(/Invalid SIEM configuration/);
    const allowed = loadConfig({
      env: {
        ...PROD,
        BULWARK_SIEM_SYSLOG_URL: 'tcp://siem.internal:601',
        BULWARK_SIEM_SYSLOG_ALLOW_PLAINTEXT: 'true',
      },
    });
    expect(siemConfigProblems(allowed)).toEqual([]);
    const loopback = loadConfig({ env: { ...PROD, BULWARK_SIEM_SYSLOG_URL: 'tcp://127.0.0.1:601' } });
    expect(siemConfigProblems(loopback)).toEqual([]);
    const tls = loadConfig({ env: { ...PROD, BULWARK_SIEM_SYSLOG_URL: 'tls://siem.internal' } });
    expect(siemConfigProblems(tls)).toEqual([]);
    const http = loadConfig({ env: { ...PROD, BULWARK_SIEM_HTTP_URL: 'http://collector.internal/ingest' } });
    expect(siemConfigProblems(http)).toEqual([
      'BULWARK_SIEM_HTTP_URL: must be an https:// URL in production',
    ]);
  });

  it('refuses combinations that cannot work', () => {
    const c = loadConfig({
      env: {
        BULWARK_DATA_DIR: 'memory://',
        BULWARK_SIEM_NATS: 'true',
        BULWARK_SIEM_HTTP_TOKEN: 'tok',
        BULWARK_SIEM_SYSLOG_URL: 'tcp://127.0.0.1:601',
        BULWARK_SIEM_SYSLOG_CA_FILE: '/etc/ssl/ca.pem',
      },
    });
    expect(siemConfigProblems({ ...c, natsUrl: undefined })).toEqual([
      'BULWARK_SIEM_SYSLOG_CA_FILE: only used with a tls:// syslog URL',
      'BULWARK_SIEM_NATS: needs NATS_URL',
      'BULWARK_SIEM_HTTP_TOKEN: set without BULWARK_SIEM_HTTP_URL',
    ]);
    expect(() =>
      loadConfig({ env: { BULWARK_DATA_DIR: 'memory://', BULWARK_SIEM_SYSLOG_URL: 'udp://x:514' } }),
    ).toThrow(/BULWARK_SIEM_SYSLOG_URL/);
  });
});
