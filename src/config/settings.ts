/**
 * The one table of every Bulwark setting: its key, where it comes from, its type, its default and
 * what it means. `load.ts` validates against it; the README's configuration table mirrors it (a test
 * keeps them in step). Secrets are lists so they can rotate: the first entry signs/encrypts, the rest
 * only verify/decrypt.
 */
export type SettingType = 'string' | 'url' | 'port' | 'int' | 'bool' | 'list' | 'enum' | 'path';

export interface Setting {
  /** Key in the config file and in the frozen config object. */
  readonly key: string;
  /** Environment variable that sets it. */
  readonly env: string;
  readonly type: SettingType;
  readonly doc: string;
  /** Allowed values for `enum`. */
  readonly values?: readonly string[];
  /** Inclusive bounds for `int`. */
  readonly min?: number;
  readonly max?: number;
  /** URL schemes accepted for `url`. */
  readonly schemes?: readonly string[];
  /** Never printed or logged. */
  readonly secret?: boolean;
}

export const SETTINGS = [
  {
    key: 'env',
    env: 'NODE_ENV',
    type: 'enum',
    values: ['development', 'test', 'production'],
    doc: 'Run mode. `production` refuses development defaults (generated keys, bootstrap secrets, plain HTTP).',
  },
  { key: 'host', env: 'BULWARK_HOST', type: 'string', doc: 'Interface the server binds to.' },
  { key: 'port', env: 'BULWARK_PORT', type: 'port', doc: 'TCP port of the server.' },
  {
    key: 'publicUrl',
    env: 'BULWARK_PUBLIC_URL',
    type: 'url',
    schemes: ['http:', 'https:'],
    doc: 'External base URL (issuer, links). Defaults to `http://HOST:PORT`. Must be https in production.',
  },
  {
    key: 'dataDir',
    env: 'BULWARK_DATA_DIR',
    type: 'path',
    doc: 'Directory of the embedded database (PGlite) and of generated development keys.',
  },
  {
    key: 'databaseUrl',
    env: 'DATABASE_URL',
    type: 'url',
    schemes: ['postgres:', 'postgresql:'],
    secret: true,
    doc: 'PostgreSQL connection string. Unset: embedded PGlite in the data directory.',
  },
  {
    key: 'databasePoolSize',
    env: 'BULWARK_DATABASE_POOL_SIZE',
    type: 'int',
    min: 1,
    max: 200,
    doc: 'Maximum PostgreSQL connections per instance.',
  },
  {
    key: 'redisUrl',
    env: 'REDIS_URL',
    type: 'url',
    schemes: ['redis:', 'rediss:'],
    secret: true,
    doc: 'Redis connection string for rate limits, replay caches and locks. Unset: in-memory store.',
  },
  {
    key: 'kvPrefix',
    env: 'BULWARK_KV_PREFIX',
    type: 'string',
    doc: 'Prefix of every key Bulwark writes to Redis.',
  },
  {
    key: 'natsUrl',
    env: 'NATS_URL',
    type: 'url',
    schemes: ['nats:', 'tls:'],
    secret: true,
    doc: 'NATS server with JetStream for the event relay. Unset: in-process event bus.',
  },
  {
    key: 'natsStream',
    env: 'BULWARK_NATS_STREAM',
    type: 'string',
    doc: 'JetStream stream that holds Bulwark events.',
  },
  {
    key: 'natsSubjectPrefix',
    env: 'BULWARK_NATS_SUBJECT_PREFIX',
    type: 'string',
    doc: 'Subject prefix of published events (`PREFIX.<topic>`).',
  },
  {
    key: 'outboxPollMs',
    env: 'BULWARK_OUTBOX_POLL_MS',
    type: 'int',
    min: 10,
    max: 60_000,
    doc: 'How often the outbox relay looks for unpublished events.',
  },
  {
    key: 'logLevel',
    env: 'BULWARK_LOG_LEVEL',
    type: 'enum',
    values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    doc: 'Log level of the structured (pino) logs.',
  },
  {
    key: 'bodyLimit',
    env: 'BULWARK_BODY_LIMIT',
    type: 'int',
    min: 1024,
    max: 50 * 1024 * 1024,
    doc: 'Largest request body accepted, in bytes (larger: 413).',
  },
  {
    key: 'shutdownTimeoutMs',
    env: 'BULWARK_SHUTDOWN_TIMEOUT_MS',
    type: 'int',
    min: 0,
    max: 600_000,
    doc: 'How long a graceful shutdown waits for in-flight requests before it exits anyway.',
  },
  {
    key: 'bootstrapAdminTokens',
    env: 'BULWARK_BOOTSTRAP_ADMIN_TOKENS',
    type: 'list',
    secret: true,
    doc: 'Comma-separated bearer tokens for the admin API (at least 32 characters each). Unset outside production: one is generated and kept in the data directory.',
  },
  {
    key: 'masterKeys',
    env: 'BULWARK_MASTER_KEYS',
    type: 'list',
    secret: true,
    doc: 'Comma-separated base64 256-bit key-encryption keys; the first encrypts, all decrypt. Unset outside production: one is generated and kept in the data directory.',
  },
  {
    key: 'tlsCertFile',
    env: 'BULWARK_TLS_CERT_FILE',
    type: 'path',
    doc: 'PEM certificate chain: serve HTTPS directly.',
  },
  { key: 'tlsKeyFile', env: 'BULWARK_TLS_KEY_FILE', type: 'path', doc: 'PEM private key for `tlsCertFile`.' },
  {
    key: 'tlsClientCaFile',
    env: 'BULWARK_TLS_CLIENT_CA_FILE',
    type: 'path',
    doc: 'PEM CA bundle that issues partner client certificates. Set: the HTTPS listener asks for client certificates (mTLS: tls_client_auth, certificate-bound tokens); self-signed ones are still accepted for self_signed_tls_client_auth.',
  },
  {
    key: 'behindTlsProxy',
    env: 'BULWARK_BEHIND_TLS_PROXY',
    type: 'bool',
    doc: 'Plain HTTP is allowed in production only when this says a TLS-terminating proxy is in front.',
  },
  {
    key: 'trustProxy',
    env: 'BULWARK_TRUST_PROXY',
    type: 'list',
    doc: 'Comma-separated proxy addresses/CIDRs whose X-Forwarded-For is believed. Empty: none.',
  },
  {
    key: 'wafMode',
    env: 'BULWARK_WAF_MODE',
    type: 'enum',
    values: ['block', 'monitor'],
    doc: 'WAF action: `block` answers 403 naming the rule ids; `monitor` only records what it would block.',
  },
  {
    key: 'wafParanoia',
    env: 'BULWARK_WAF_PARANOIA',
    type: 'int',
    min: 1,
    max: 4,
    doc: 'WAF paranoia level 1-4: higher levels run more rules (more detection, more false positives).',
  },
  {
    key: 'jsonMaxDepth',
    env: 'BULWARK_JSON_MAX_DEPTH',
    type: 'int',
    min: 2,
    max: 256,
    doc: 'Deepest nesting of objects/arrays accepted in a JSON body.',
  },
  {
    key: 'jsonMaxKeys',
    env: 'BULWARK_JSON_MAX_KEYS',
    type: 'int',
    min: 1,
    max: 100_000,
    doc: 'Most members accepted in one JSON object.',
  },
  {
    key: 'jsonMaxItems',
    env: 'BULWARK_JSON_MAX_ITEMS',
    type: 'int',
    min: 1,
    max: 1_000_000,
    doc: 'Most items accepted in one JSON array.',
  },
  {
    key: 'jsonMaxStringLength',
    env: 'BULWARK_JSON_MAX_STRING_LENGTH',
    type: 'int',
    min: 16,
    max: 50 * 1024 * 1024,
    doc: 'Longest string (or key) accepted in a JSON body, in characters.',
  },
  {
    key: 'maxHeaders',
    env: 'BULWARK_MAX_HEADERS',
    type: 'int',
    min: 8,
    max: 1000,
    doc: 'Most request headers accepted (more: 431).',
  },
  {
    key: 'maxHeaderBytes',
    env: 'BULWARK_MAX_HEADER_BYTES',
    type: 'int',
    min: 1024,
    max: 1024 * 1024,
    doc: 'Largest total size of the request line and headers (more: 431).',
  },
  {
    key: 'headersTimeoutMs',
    env: 'BULWARK_HEADERS_TIMEOUT_MS',
    type: 'int',
    min: 1000,
    max: 600_000,
    doc: 'Time allowed to receive the request headers (slowloris protection).',
  },
  {
    key: 'requestTimeoutMs',
    env: 'BULWARK_REQUEST_TIMEOUT_MS',
    type: 'int',
    min: 1000,
    max: 600_000,
    doc: 'Time allowed to receive a whole request, body included.',
  },
  {
    key: 'keepAliveTimeoutMs',
    env: 'BULWARK_KEEP_ALIVE_TIMEOUT_MS',
    type: 'int',
    min: 100,
    max: 600_000,
    doc: 'How long an idle kept-alive connection stays open.',
  },
  {
    key: 'maxConnections',
    env: 'BULWARK_MAX_CONNECTIONS',
    type: 'int',
    min: 1,
    max: 1_000_000,
    doc: 'Most simultaneous connections per instance; more are refused at accept.',
  },
  {
    key: 'rateLimitsFile',
    env: 'BULWARK_RATE_LIMITS_FILE',
    type: 'path',
    doc: 'JSON file with the rate-limit policy table (base, classes, plans, defaultPlan) replacing the built-in defaults.',
  },
  {
    key: 'corsOrigins',
    env: 'BULWARK_CORS_ORIGINS',
    type: 'list',
    doc: 'Comma-separated browser origins allowed to call the API cross-origin (exact match). Empty: none.',
  },
  {
    key: 'webhookAllowHttp',
    env: 'BULWARK_WEBHOOK_ALLOW_HTTP',
    type: 'bool',
    doc: 'Allow plain `http://` webhook URLs (tests and development only; refused in production).',
  },
  {
    key: 'webhookAllowedCidrs',
    env: 'BULWARK_WEBHOOK_ALLOWED_CIDRS',
    type: 'list',
    doc: "Comma-separated CIDRs exempted from the webhook SSRF guard's private-address check, e.g. `127.0.0.1/32` for a local test receiver (metadata addresses never are). Refused in production.",
  },
  {
    key: 'siemSyslogUrl',
    env: 'BULWARK_SIEM_SYSLOG_URL',
    type: 'url',
    schemes: ['tcp:', 'tls:'],
    doc: 'SIEM export to syslog (RFC 5424, octet-counted TCP framing): `tls://host:port` (RFC 5425, default port 6514) or `tcp://host:port`. Production refuses `tcp://` to a non-loopback host unless BULWARK_SIEM_SYSLOG_ALLOW_PLAINTEXT is set. Unset: off.',
  },
  {
    key: 'siemSyslogFormat',
    env: 'BULWARK_SIEM_SYSLOG_FORMAT',
    type: 'enum',
    values: ['cef', 'ocsf'],
    doc: 'Syslog message body: `cef` (ArcSight CEF) or `ocsf` (the OCSF event as JSON).',
  },
  {
    key: 'siemSyslogCaFile',
    env: 'BULWARK_SIEM_SYSLOG_CA_FILE',
    type: 'path',
    doc: "PEM CA bundle the syslog collector's TLS certificate must chain to. Unset: the system CAs.",
  },
  {
    key: 'siemSyslogAllowPlaintext',
    env: 'BULWARK_SIEM_SYSLOG_ALLOW_PLAINTEXT',
    type: 'bool',
    doc: 'Allow `tcp://` (unencrypted) syslog to a non-loopback host in production, e.g. to a local relay on a trusted network.',
  },
  {
    key: 'siemNats',
    env: 'BULWARK_SIEM_NATS',
    type: 'bool',
    doc: 'SIEM export of OCSF events to NATS JetStream (the NATS_URL server), subjects `PREFIX.<tenant id|platform>.<class>`.',
  },
  {
    key: 'siemNatsStream',
    env: 'BULWARK_SIEM_NATS_STREAM',
    type: 'string',
    doc: 'JetStream stream of the SIEM export (created if missing).',
  },
  {
    key: 'siemNatsSubjectPrefix',
    env: 'BULWARK_SIEM_NATS_SUBJECT_PREFIX',
    type: 'string',
    doc: "Subject prefix of the SIEM export; must not overlap the event stream's subjects.",
  },
  {
    key: 'siemHttpUrl',
    env: 'BULWARK_SIEM_HTTP_URL',
    type: 'url',
    schemes: ['https:', 'http:'],
    doc: 'SIEM export to an HTTPS collector: batches POSTed as JSON (see BULWARK_SIEM_HTTP_FORMAT). Must be https in production. Unset: off.',
  },
  {
    key: 'siemHttpToken',
    env: 'BULWARK_SIEM_HTTP_TOKEN',
    type: 'string',
    secret: true,
    doc: 'Token sent to the HTTPS collector (`Authorization: Bearer …`, or `Splunk …` with format `hec`).',
  },
  {
    key: 'siemHttpFormat',
    env: 'BULWARK_SIEM_HTTP_FORMAT',
    type: 'enum',
    values: ['ocsf', 'hec'],
    doc: 'HTTPS collector body: `ocsf` (JSON array of OCSF events) or `hec` (Splunk HTTP Event Collector).',
  },
  {
    key: 'siemBatchSize',
    env: 'BULWARK_SIEM_BATCH_SIZE',
    type: 'int',
    min: 1,
    max: 5000,
    doc: 'Audit records per SIEM export batch (one batch in flight per sink).',
  },
  {
    key: 'siemPollMs',
    env: 'BULWARK_SIEM_POLL_MS',
    type: 'int',
    min: 50,
    max: 60_000,
    doc: 'How often a caught-up SIEM exporter looks for new audit records.',
  },
  {
    key: 'otelEndpoint',
    env: 'OTEL_EXPORTER_OTLP_ENDPOINT',
    type: 'url',
    schemes: ['http:', 'https:'],
    doc: 'OpenTelemetry OTLP/HTTP endpoint (spans go to `ENDPOINT/v1/traces`, JSON encoding). Unset: no spans are recorded; incoming W3C `traceparent` ids still reach the logs.',
  },
  {
    key: 'otelHeaders',
    env: 'OTEL_EXPORTER_OTLP_HEADERS',
    type: 'string',
    secret: true,
    doc: 'Headers sent to the OTLP endpoint, `key=value` pairs separated by commas (e.g. an API key).',
  },
  {
    key: 'otelServiceName',
    env: 'OTEL_SERVICE_NAME',
    type: 'string',
    doc: 'The `service.name` resource attribute of exported spans.',
  },
  {
    key: 'kycSanctionsLists',
    env: 'BULWARK_KYC_SANCTIONS_LISTS',
    type: 'list',
    doc: 'Comma-separated sanctions list files screened by live verifications: EU FSF XML, UN consolidated XML, OFAC SDN CSV (with its alt.csv beside it) or a CSV with an id,schema,name header; the format is detected. Defaults to the fictional samples in data/sanctions.',
  },
  {
    key: 'kycPepLists',
    env: 'BULWARK_KYC_PEP_LISTS',
    type: 'list',
    doc: 'Comma-separated politically-exposed-person list files, in the same formats. Defaults to the fictional sample in data/pep.',
  },
  {
    key: 'kycMatchThreshold',
    env: 'BULWARK_KYC_MATCH_THRESHOLD',
    type: 'int',
    min: 70,
    max: 100,
    doc: 'Jaro-Winkler similarity, in percent, at or above which a name matches a sanctions or PEP list entry.',
  },
  {
    key: 'kycWorkerPollMs',
    env: 'BULWARK_KYC_WORKER_POLL_MS',
    type: 'int',
    min: 0,
    max: 3_600_000,
    doc: 'How often the verification worker looks for submitted cases; 0 turns the in-process worker off.',
  },
  {
    key: 'paymentsWorkerPollMs',
    env: 'BULWARK_PAYMENTS_WORKER_POLL_MS',
    type: 'int',
    min: 0,
    max: 3_600_000,
    doc: 'How often the payments worker submits due collections and applies rail reports; 0 turns it off.',
  },
] as const satisfies readonly Setting[];

export interface Config {
  readonly env: 'development' | 'test' | 'production';
  readonly host: string;
  readonly port: number;
  readonly publicUrl: string;
  readonly dataDir: string;
  readonly databaseUrl: string | undefined;
  readonly databasePoolSize: number;
  readonly redisUrl: string | undefined;
  readonly kvPrefix: string;
  readonly natsUrl: string | undefined;
  readonly natsStream: string;
  readonly natsSubjectPrefix: string;
  readonly outboxPollMs: number;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly bodyLimit: number;
  readonly shutdownTimeoutMs: number;
  readonly bootstrapAdminTokens: readonly string[];
  readonly masterKeys: readonly string[];
  readonly tlsCertFile: string | undefined;
  readonly tlsKeyFile: string | undefined;
  readonly tlsClientCaFile: string | undefined;
  readonly behindTlsProxy: boolean;
  readonly trustProxy: readonly string[];
  readonly wafMode: 'block' | 'monitor';
  readonly wafParanoia: number;
  readonly jsonMaxDepth: number;
  readonly jsonMaxKeys: number;
  readonly jsonMaxItems: number;
  readonly jsonMaxStringLength: number;
  readonly maxHeaders: number;
  readonly maxHeaderBytes: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxConnections: number;
  readonly corsOrigins: readonly string[];
  readonly webhookAllowHttp: boolean;
  readonly webhookAllowedCidrs: readonly string[];
  readonly rateLimitsFile: string | undefined;
  readonly siemSyslogUrl: string | undefined;
  readonly siemSyslogFormat: 'cef' | 'ocsf';
  readonly siemSyslogCaFile: string | undefined;
  readonly siemSyslogAllowPlaintext: boolean;
  readonly siemNats: boolean;
  readonly siemNatsStream: string;
  readonly siemNatsSubjectPrefix: string;
  readonly siemHttpUrl: string | undefined;
  readonly siemHttpToken: string | undefined;
  readonly siemHttpFormat: 'ocsf' | 'hec';
  readonly siemBatchSize: number;
  readonly siemPollMs: number;
  readonly otelEndpoint: string | undefined;
  readonly otelHeaders: string | undefined;
  readonly otelServiceName: string;
  readonly kycSanctionsLists: readonly string[];
  readonly kycPepLists: readonly string[];
  readonly kycMatchThreshold: number;
  readonly kycWorkerPollMs: number;
  readonly paymentsWorkerPollMs: number;
  /** Which secrets were generated for development rather than configured (production refuses these). */
  readonly generated: readonly ('bootstrapAdminTokens' | 'masterKeys')[];
}

export type SettingKey = (typeof SETTINGS)[number]['key'];

/** Defaults for everything that has one. `publicUrl` is derived from host and port. */
export const DEFAULTS = {
  env: 'development',
  host: '127.0.0.1',
  port: 8080,
  dataDir: './.bulwark',
  databasePoolSize: 10,
  kvPrefix: 'bulwark:',
  natsStream: 'BULWARK_EVENTS',
  natsSubjectPrefix: 'bulwark',
  outboxPollMs: 250,
  logLevel: 'info',
  bodyLimit: 1024 * 1024,
  shutdownTimeoutMs: 10_000,
  behindTlsProxy: false,
  trustProxy: [],
  wafMode: 'block',
  wafParanoia: 1,
  jsonMaxDepth: 32,
  jsonMaxKeys: 1000,
  jsonMaxItems: 10_000,
  jsonMaxStringLength: 1024 * 1024,
  maxHeaders: 100,
  maxHeaderBytes: 16 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 10_000,
  corsOrigins: [],
  webhookAllowHttp: false,
  webhookAllowedCidrs: [],
  siemSyslogFormat: 'cef',
  siemSyslogAllowPlaintext: false,
  siemNats: false,
  siemNatsStream: 'BULWARK_SIEM',
  siemNatsSubjectPrefix: 'bulwark-siem',
  siemHttpFormat: 'ocsf',
  siemBatchSize: 200,
  siemPollMs: 1000,
  otelServiceName: 'bulwark',
  kycSanctionsLists: [
    'data/sanctions/eu-fsf-sample.xml',
    'data/sanctions/un-consolidated-sample.xml',
    'data/sanctions/ofac-sdn-sample.csv',
  ],
  kycPepLists: ['data/pep/pep-sample.csv'],
  kycMatchThreshold: 90,
  kycWorkerPollMs: 500,
  paymentsWorkerPollMs: 1000,
} as const satisfies Partial<Record<SettingKey, unknown>>;
