/**
 * A labelled traffic generator for the detection evaluation: deterministic (seeded PRNG), on a
 * simulated clock (no waiting), producing normal traffic — many tenants, partner clients and users
 * with a daily rhythm, ordinary login failures, stale ids answered 404, innocent WAF matches,
 * policies, claims and payouts — mixed with labelled attack scenarios, one kind per detector.
 *
 * Every event carries `label`: undefined for normal traffic, the attack instance id otherwise.
 */
import type { BusinessEvent, DetectorId, FeedEvent, ResponseEvent, SignInEvent, WafEvent } from '../types.ts';

export type Labelled = FeedEvent & { readonly label?: string };

export interface AttackInstance {
  readonly id: string;
  readonly scenario: string;
  readonly detector: DetectorId;
  readonly start: number;
  /** The last attack event. */
  end: number;
  readonly tenantId: string | null;
  /** Who an alert about this attack names: `type:id` (tenant apart). */
  subject: string;
}

export interface Replay {
  readonly events: readonly Labelled[];
  readonly attacks: readonly AttackInstance[];
  readonly start: number;
  readonly end: number;
}

/** mulberry32: small, fast, good enough for simulation, and the same on every machine. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export interface TrafficOptions {
  readonly seed?: number;
  readonly tenants?: number;
  readonly clientsPerTenant?: number;
  readonly usersPerTenant?: number;
  readonly days?: number;
  /** Attack instances per scenario. */
  readonly attacksPerScenario?: number;
}

/** Daily rhythm: quiet at night, a peak in the (UTC) afternoon. */
function diurnal(at: number): number {
  const h = (at % DAY) / HOUR;
  return 0.15 + 0.85 * Math.max(0, Math.sin(((h - 6) / 16) * Math.PI)) ** 1.5;
}

function hex(rand: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(rand() * 16).toString(16);
  return s;
}

function fakeUuid(rand: () => number): string {
  return `${hex(rand, 8)}-${hex(rand, 4)}-7${hex(rand, 3)}-8${hex(rand, 3)}-${hex(rand, 12)}`;
}

function poisson(rand: () => number, lambda: number): number {
  if (lambda <= 0) return 0;
  if (lambda > 30) return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * gauss(rand)));
  const l = Math.exp(-lambda);
  let k = 0;
  let p = 1;
  do {
    k++;
    p *= rand();
  } while (p > l);
  return k - 1;
}

function gauss(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(rand() || 1e-12)) * Math.cos(2 * Math.PI * rand());
}

const pick = <T>(rand: () => number, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

/** Draws without replacement (refilling when exhausted), so attack instances get distinct subjects. */
function drawer<T>(rand: () => number, xs: readonly T[]): () => T {
  let bag: T[] = [];
  return () => {
    if (bag.length === 0) bag = [...xs];
    return bag.splice(Math.floor(rand() * bag.length), 1)[0]!;
  };
}

interface Client {
  readonly tenantId: string;
  readonly clientId: string;
  readonly partnerId: string;
  /** Mean requests per minute at the daily peak. */
  readonly rate: number;
  readonly egress: readonly string[];
  readonly objects: string[];
  tokenId: string;
  tokenUntil: number;
}

interface User {
  readonly tenantId: string;
  readonly userId: string;
  readonly clientId: string;
  readonly home: string;
  readonly mobilePrefix: string;
  readonly objects: string[];
}

export function generateTraffic(options: TrafficOptions = {}): Replay {
  const rand = prng(options.seed ?? 20261125);
  const days = options.days ?? 2.5;
  const start = Date.UTC(2026, 0, 5, 0, 0, 0);
  const end = start + days * DAY;
  const attackFrom = start + 1.25 * DAY;
  const attackTo = end - 2 * HOUR;
  const events: Labelled[] = [];
  const attacks: AttackInstance[] = [];
  const ip4 = (a = 1 + Math.floor(rand() * 222)) =>
    `${a}.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}.${1 + Math.floor(rand() * 254)}`;

  const tenants = Array.from({ length: options.tenants ?? 5 }, () => fakeUuid(rand));
  const clients: Client[] = [];
  const users: User[] = [];
  const allPartners: { tenantId: string; partnerId: string; clientId: string }[] = [];
  for (const tenantId of tenants) {
    const partners = [fakeUuid(rand), fakeUuid(rand)];
    for (const partnerId of partners)
      allPartners.push({ tenantId, partnerId, clientId: `app_${hex(rand, 12)}` });
    for (let c = 0; c < (options.clientsPerTenant ?? 3); c++) {
      const net = ip4();
      const base = net.slice(0, net.lastIndexOf('.'));
      clients.push({
        tenantId,
        clientId: `app_${hex(rand, 12)}`,
        partnerId: pick(rand, partners),
        rate: 2 + rand() * 10,
        // A load-balanced egress: a few addresses in one /24.
        egress: [`${base}.10`, `${base}.11`, `${base}.12`],
        objects: Array.from({ length: 400 }, () => fakeUuid(rand)),
        tokenId: fakeUuid(rand),
        tokenUntil: 0,
      });
    }
    const office = ip4();
    for (let u = 0; u < (options.usersPerTenant ?? 40); u++) {
      users.push({
        tenantId,
        userId: fakeUuid(rand),
        clientId: pick(
          rand,
          clients.filter((c) => c.tenantId === tenantId),
        ).clientId,
        // A quarter of the users sit behind one office NAT address.
        home: u % 4 === 0 ? office : ip4(),
        mobilePrefix: ip4(),
        objects: Array.from({ length: 5 }, () => fakeUuid(rand)),
      });
    }
  }

  const response = (
    at: number,
    c: { tenantId: string; clientId: string },
    ip: string,
    extra: Partial<ResponseEvent>,
    label?: string,
  ): Labelled => ({
    kind: 'response',
    at,
    tenantId: c.tenantId,
    clientId: c.clientId,
    ip,
    route: '/v1/claims',
    method: 'GET',
    status: 200,
    durationMs: 5 + rand() * 20,
    ...extra,
    ...(label ? { label } : {}),
  });

  // ---- normal partner back-end traffic, minute by minute ----
  for (let t = start; t < end; t += MINUTE) {
    const rhythm = diurnal(t);
    for (const c of clients) {
      const n = poisson(rand, c.rate * rhythm);
      for (let i = 0; i < n; i++) {
        const at = t + Math.floor(rand() * MINUTE);
        if (at >= c.tokenUntil) {
          c.tokenId = fakeUuid(rand);
          c.tokenUntil = at + 5 * MINUTE;
        }
        const ip = pick(rand, c.egress);
        const token = { tokenId: c.tokenId, tokenExp: Math.floor(c.tokenUntil / 1000) };
        const r = rand();
        if (r < 0.3) events.push(response(at, c, ip, { ...token, route: '/v1/claims' }));
        else {
          const stale = rand() < 0.03;
          events.push(
            response(at, c, ip, {
              ...token,
              route: '/v1/claims/:claimId',
              objectId: stale ? fakeUuid(rand) : pick(rand, c.objects),
              status: stale ? 404 : 200,
            }),
          );
        }
        // Innocent WAF matches: a name with an apostrophe, a search for "select".
        if (rand() < 0.004) events.push(waf(at, ip, 2 + Math.floor(rand() * 2)));
      }
    }
  }

  function waf(at: number, ip: string, score: number, label?: string): Labelled {
    const e: WafEvent = {
      kind: 'waf',
      at,
      tenantId: null,
      ip,
      route: '/v1/parties',
      action: score >= 5 ? 'block' : 'allow',
      score,
      threshold: 5,
      ruleIds: [score >= 3 ? 'sqli-160' : 'xss-120'],
    };
    return label ? { ...e, label } : e;
  }

  const signin = (
    at: number,
    u: { tenantId: string; clientId: string },
    account: string,
    ip: string,
    outcome: SignInEvent['outcome'],
    label?: string,
  ): Labelled => ({
    kind: 'signin',
    at,
    tenantId: u.tenantId,
    clientId: u.clientId,
    ip,
    account,
    ...(account.startsWith('user:') ? { userId: account.slice(5) } : {}),
    outcome,
    ...(label ? { label } : {}),
  });

  // ---- normal people: sessions through a partner app (sign-in, then calls with a user token) ----
  for (const u of users) {
    for (let t = start; t < end; t += 30 * MINUTE) {
      if (rand() > diurnal(t) * 0.25) continue;
      let at = t + Math.floor(rand() * 30 * MINUTE);
      const ip = rand() < 0.2 ? u.mobilePrefix : u.home;
      const account = `user:${u.userId}`;
      // Ordinary mistakes: one or two failures before the success.
      const fails = rand() < 0.08 ? (rand() < 0.25 ? 2 : 1) : 0;
      for (let f = 0; f < fails; f++) {
        events.push(signin(at, u, account, ip, 'failure'));
        at += 10_000 + Math.floor(rand() * 30_000);
      }
      // A forgotten password now and then: four failures, then a reset (no success).
      if (rand() < 0.01) {
        for (let f = 0; f < 3; f++) {
          events.push(signin(at, u, account, ip, 'failure'));
          at += 20_000;
        }
        continue;
      }
      events.push(signin(at, u, account, ip, 'success'));
      // Someone else's typo on the office NAT (a mistyped username that matches no account).
      if (rand() < 0.03) events.push(signin(at + 5_000, u, `acct:typo${hex(rand, 6)}`, ip, 'failure'));
      const tokenId = fakeUuid(rand);
      const calls = 3 + Math.floor(rand() * 10);
      for (let k = 0; k < calls; k++) {
        const when = at + 2_000 + Math.floor((k * 4 * MINUTE) / calls);
        events.push(
          response(when, u, ip, {
            userId: u.userId,
            tokenId,
            tokenExp: Math.floor((at + 5 * MINUTE) / 1000),
            route: '/v1/policies/:policyId',
            objectId: rand() < 0.02 ? fakeUuid(rand) : pick(rand, u.objects),
          }),
        );
      }
    }
  }

  // ---- normal business: policies bound, claims (some early, most later), payouts ----
  const biz = (
    at: number,
    tenantId: string,
    topic: string,
    payload: Record<string, unknown>,
    label?: string,
  ) =>
    ({
      kind: 'business',
      at,
      tenantId,
      topic,
      payload,
      ...(label ? { label } : {}),
    }) as BusinessEvent & { label?: string };
  for (const tenantId of tenants) {
    const partnerIds = allPartners.filter((p) => p.tenantId === tenantId).map((p) => p.partnerId);
    const households: string[] = [];
    for (let t = start; t < end; t += 10 * MINUTE) {
      if (rand() > diurnal(t) * 0.8) continue;
      const at = t + Math.floor(rand() * 10 * MINUTE);
      const policyId = fakeUuid(rand);
      const partnerId = pick(rand, partnerIds);
      events.push(
        biz(at, tenantId, 'policy.status_changed', { policyId, partnerId, from: 'quoted', to: 'bound' }),
      );
      // A few claims come early (a genuine accident in the first days)…
      if (rand() < 0.015) {
        const claimAt = at + Math.floor(rand() * 72 * HOUR);
        if (claimAt < end) {
          const claimId = fakeUuid(rand);
          events.push(
            biz(claimAt, tenantId, 'claim.status_changed', {
              claimId,
              policyId,
              partnerId,
              from: null,
              to: 'fnol',
            }),
          );
        }
      }
      // …most on policies bound long before the replay (no binding seen).
      if (rand() < 0.5) {
        const oldPolicy = fakeUuid(rand);
        const claimId = fakeUuid(rand);
        events.push(
          biz(at + 1_000, tenantId, 'claim.status_changed', {
            claimId,
            policyId: oldPolicy,
            partnerId,
            from: null,
            to: 'fnol',
          }),
        );
        if (rand() < 0.6) {
          // The payout goes to the claimant's own IBAN; households share one across two policies.
          const shared = rand() < 0.1 ? households.pop() : undefined;
          const iban = shared ?? `bi_${hex(rand, 20)}`;
          if (!shared && rand() < 0.1) households.push(iban);
          const paymentId = fakeUuid(rand);
          const payAt = at + 2 * HOUR + Math.floor(rand() * 6 * HOUR);
          if (payAt < end) {
            for (const topic of ['payment.created', 'payment.settled']) {
              events.push(
                biz(payAt, tenantId, topic, {
                  paymentId,
                  claimId,
                  policyId: oldPolicy,
                  partnerId,
                  kind: 'claim_payout',
                  counterpartyIbanIndex: iban,
                }),
              );
            }
          }
        }
      }
    }
  }

  // ---- attacks ----
  const per = options.attacksPerScenario ?? 5;
  const nextClient = () => drawer(rand, clients);
  const nextUser = () => drawer(rand, users);
  let n = 0;
  const attackStart = () => attackFrom + Math.floor(rand() * (attackTo - attackFrom));
  // Two attacks on one subject at once would blur each other (a scrape hides a probe); keep 2 h apart.
  const taken = new Map<string, number[]>();
  const startFor = (subject: string) => {
    const times = taken.get(subject) ?? [];
    let at = attackStart();
    for (let i = 0; i < 100 && times.some((t) => Math.abs(t - at) < 2 * HOUR); i++) at = attackStart();
    taken.set(subject, [...times, at]);
    return at;
  };
  const instance = (
    scenario: string,
    detector: DetectorId,
    at: number,
    tenantId: string | null,
    subject: string,
  ) => {
    const a: AttackInstance = {
      id: `${scenario}#${++n}`,
      scenario,
      detector,
      start: at,
      end: at,
      tenantId,
      subject,
    };
    attacks.push(a);
    return a;
  };

  for (let i = 0; i < per; i++) {
    // Credential stuffing / spraying from one source: many accounts, mostly unknown ones.
    const c = pick(rand, clients);
    const ip = ip4();
    const a = instance(
      'credential-stuffing',
      'credential_stuffing',
      startFor(c.clientId),
      c.tenantId,
      `ip:${ip}`,
    );
    let at = a.start;
    const tenantUsers = users.filter((u) => u.tenantId === c.tenantId);
    for (let k = 0; k < 20 + Math.floor(rand() * 40); k++) {
      const known = rand() < 0.3;
      const account = known ? `user:${pick(rand, tenantUsers).userId}` : `acct:leak${hex(rand, 8)}`;
      events.push(signin(at, c, account, ip, rand() < 0.97 ? 'failure' : 'success', a.id));
      at += 3_000 + Math.floor(rand() * 20_000);
    }
  }
  const guessed = nextUser();
  for (let i = 0; i < per; i++) {
    // One account from many networks (a botnet guessing one password).
    const u = guessed();
    const a = instance(
      'distributed-guessing',
      'credential_stuffing',
      startFor(u.userId),
      u.tenantId,
      `user:${u.userId}`,
    );
    let at = a.start;
    for (let k = 0; k < 6 + Math.floor(rand() * 10); k++) {
      events.push(signin(at, u, `user:${u.userId}`, ip4(), 'failure', a.id));
      at += 30_000 + Math.floor(rand() * 120_000);
    }
  }
  const prober = nextClient();
  for (let i = 0; i < per; i++) {
    // BOLA: a partner client walking claim ids (sequential) or guessing them (random).
    const c = prober();
    const a = instance(
      'bola-enumeration',
      'bola_enumeration',
      startFor(c.clientId),
      c.tenantId,
      `client:${c.clientId}`,
    );
    const sequential = i % 2 === 0;
    let at = a.start;
    const first = 100_000 + Math.floor(rand() * 100_000);
    for (let k = 0; k < 30 + Math.floor(rand() * 30); k++) {
      const objectId = sequential ? `CLM-${first + k}` : fakeUuid(rand);
      const hit = rand() < 0.1;
      events.push(
        response(
          at,
          c,
          pick(rand, c.egress),
          { route: '/v1/claims/:claimId', objectId, status: hit ? 200 : rand() < 0.5 ? 403 : 404 },
          a.id,
        ),
      );
      at += 2_000 + Math.floor(rand() * 10_000);
    }
  }
  const scraper = nextClient();
  for (let i = 0; i < per; i++) {
    // Scraping: a client suddenly pulling 10-20x its usual volume of distinct objects for 20 minutes.
    const c = scraper();
    const a = instance('scraping', 'client_volume', startFor(c.clientId), c.tenantId, `client:${c.clientId}`);
    const perMinute = c.rate * (10 + rand() * 10);
    for (let m = 0; m < 20; m++) {
      const count = poisson(rand, perMinute);
      for (let k = 0; k < count; k++) {
        events.push(
          response(
            a.start + m * MINUTE + Math.floor(rand() * MINUTE),
            c,
            pick(rand, c.egress),
            { route: '/v1/claims/:claimId', objectId: pick(rand, c.objects) },
            a.id,
          ),
        );
      }
    }
  }
  const victim = nextUser();
  for (let i = 0; i < per; i++) {
    // A stolen user token replayed from another network while the user still uses it.
    const u = victim();
    const tokenId = fakeUuid(rand);
    const a = instance('token-theft', 'token_network', startFor(u.userId), u.tenantId, `token:${tokenId}`);
    const exp = Math.floor((a.start + 5 * MINUTE) / 1000);
    const base = { userId: u.userId, tokenId, tokenExp: exp, route: '/v1/policies/:policyId' };
    events.push(response(a.start, u, u.home, { ...base, objectId: u.objects[0] }));
    const thief = ip4();
    for (let k = 1; k <= 3; k++) {
      events.push(response(a.start + k * 20_000, u, thief, { ...base, objectId: u.objects[1] }, a.id));
    }
  }
  for (let i = 0; i < per; i++) {
    // Payout fraud: claims of unrelated policies all paid to one IBAN.
    const tenantId = pick(rand, tenants);
    const iban = `bi_${hex(rand, 20)}`;
    const a = instance('payout-iban', 'payout_iban', attackStart(), tenantId, `iban:${iban}`);
    for (let k = 0; k < 3 + Math.floor(rand() * 4); k++) {
      const claimId = fakeUuid(rand);
      events.push(
        biz(
          a.start + k * 40 * MINUTE,
          tenantId,
          'payment.created',
          {
            paymentId: fakeUuid(rand),
            claimId,
            policyId: fakeUuid(rand),
            partnerId: null,
            kind: 'claim_payout',
            counterpartyIbanIndex: iban,
          },
          a.id,
        ),
      );
    }
  }
  const burstPartner = drawer(rand, allPartners);
  for (let i = 0; i < per; i++) {
    // Policies bought to claim on: one partner's fresh policies each claimed within hours.
    const c = burstPartner();
    const a = instance(
      'claim-burst',
      'claim_burst',
      startFor(c.partnerId),
      c.tenantId,
      `partner:${c.partnerId}`,
    );
    for (let k = 0; k < 3 + Math.floor(rand() * 4); k++) {
      const policyId = fakeUuid(rand);
      const boundAt = a.start - 6 * HOUR + k * 30 * MINUTE;
      events.push(
        biz(boundAt, c.tenantId, 'policy.status_changed', {
          policyId,
          partnerId: c.partnerId,
          from: 'quoted',
          to: 'bound',
        }),
      );
      events.push(
        biz(
          a.start + k * 20 * MINUTE,
          c.tenantId,
          'claim.status_changed',
          {
            claimId: fakeUuid(rand),
            policyId,
            partnerId: c.partnerId,
            from: null,
            to: 'fnol',
          },
          a.id,
        ),
      );
    }
  }
  for (let i = 0; i < per; i++) {
    // A scanner staying under the WAF threshold: many requests each scoring 2-4.
    const ip = ip4();
    const a = instance('waf-probing', 'waf_near_miss', attackStart(), null, `ip:${ip}`);
    let at = a.start;
    for (let k = 0; k < 10 + Math.floor(rand() * 20); k++) {
      events.push(waf(at, ip, 2 + Math.floor(rand() * 3), a.id));
      at += 20_000 + Math.floor(rand() * 60_000);
    }
  }

  const byId = new Map(attacks.map((a) => [a.id, a]));
  for (const e of events) {
    const a = e.label ? byId.get(e.label) : undefined;
    if (a && e.at > a.end) a.end = e.at;
  }
  events.sort((x, y) => x.at - y.at);
  return { events, attacks, start, end };
}
