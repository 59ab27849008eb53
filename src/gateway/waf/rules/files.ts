import type { WafRule } from './types.ts';

/**
 * Files and URLs: path traversal / local file inclusion (CWE-22, CWE-98), remote file inclusion
 * (CWE-98), and server-side request forgery towards internal or metadata endpoints (CWE-918).
 */

const ANY = ['values', 'keys'] as const;

/** Files an attacker reads to prove traversal: OS secrets, app configuration, VCS metadata. */
const SENSITIVE =
  '(?:etc[\\\\/]+(?:passwd|shadow|group|gshadow|hosts|issue|motd|sudoers|crontab|profile|hostname|fstab|os-release|resolv\\.conf|ssh[\\\\/]|apache2?[\\\\/]|nginx[\\\\/]|httpd[\\\\/]|mysql[\\\\/]|php\\w*[\\\\/]|security[\\\\/]|environment|inittab|network[\\\\/]|master\\.passwd|pwd\\.db|spwd\\.db|\\w+\\.conf\\b)|proc[\\\\/]+(?:self|\\d+|version|cmdline|environ|mounts|interrupts|cpuinfo|meminfo|net|sched_debug|kallsyms|partitions|modules)\\b|sys[\\\\/]+(?:class|kernel|devices|block|bus|firmware|fs|module|power)\\b|tmp[\\\\/]+\\w|var[\\\\/]+(?:log|www|lib|run|mail|spool)[\\\\/]|usr[\\\\/]+local[\\\\/]|root[\\\\/]+\\.|home[\\\\/]+[^\\\\/]+[\\\\/]+\\.|dev[\\\\/]+(?:null|zero|random|urandom|tcp|udp|fd|stdin|stdout)|boot\\.ini|win\\.ini|system\\.ini|windows[\\\\/]+(?:system32|win\\.ini|repair|panther|debug)|winnt[\\\\/]|system32[\\\\/]|inetpub[\\\\/]|web-inf[\\\\/]*(?:web\\.xml|classes|lib)?|meta-inf[\\\\/]|\\.htaccess|\\.htpasswd|\\.git[\\\\/]|\\.svn[\\\\/]|\\.hg[\\\\/]|\\.env\\b|\\.aws[\\\\/]|\\.ssh[\\\\/]|\\.docker[\\\\/]|\\.kube[\\\\/]|id_(?:rsa|dsa|ecdsa|ed25519)\\b|\\.bash_history|\\.bashrc|\\.profile\\b|wp-config\\.php|config\\.(?:php|inc|ini)|localsettings\\.php|\\.ds_store|web\\.config|applicationhost\\.config|php\\.ini|my\\.cnf|server\\.xml|tomcat-users\\.xml|\\.npmrc|\\.netrc|\\.pgpass|authorized_keys|known_hosts)';

export const fileRules: readonly WafRule[] = [
  {
    id: 'lfi-100',
    family: 'lfi',
    pl: 1,
    severity: 'critical',
    plain: true,
    title: 'Directory traversal sequence',
    match: {
      regex:
        '(?:^|[\\\\/;=:]|\\s)\\.{2,}[\\\\/;]|[\\\\/]\\.{2,}(?:[\\\\/;?#]|$)|^\\.{2,}$|\\.{2,}(?:0x(?:2f|5c)|%(?:2f|5c))|(?:0x2e){2}|(?:%2e){2}',
    },
    targets: ANY,
  },
  {
    id: 'lfi-110',
    family: 'lfi',
    pl: 1,
    severity: 'critical',
    plain: true,
    title: 'Sensitive file or directory reference',
    match: { regex: `(?:^|[\\\\/\\s'"=:;,(|&\`*?]|\\.\\.|file:)${SENSITIVE}` },
    targets: ANY,
  },
  {
    id: 'lfi-120',
    family: 'lfi',
    pl: 1,
    severity: 'critical',
    plain: true,
    title: 'Sensitive file names with separators stripped (traversal evasion)',
    match: {
      regex:
        '\\.(?:sql|sqlite\\d?|db|dump|bak|mdb)(?:\\.(?:zip|gz|tgz|tar|7z|rar|bz2|xz))+$|\\.{3,}\\s*(?:etc|web-inf|windows|winnt|boot|proc|var|usr|[a-z]:)|etc\\W{0,3}(?:passwd|shadow)\\b|\\bboot\\.ini\\b|\\bwin\\.ini\\b|web-inf\\W{0,3}web\\.xml|\\bc:\\W{0,3}(?:windows|winnt|boot\\.ini|inetpub)',
    },
    targets: ANY,
  },
  {
    id: 'lfi-130',
    family: 'lfi',
    pl: 1,
    severity: 'critical',
    title: 'Path obfuscation: repeated current-directory or empty segments, dot runs between slashes',
    match: {
      regex:
        '(?:^|[\\\\/])(?:\\.[\\\\/]+){2,}|[\\\\/]{3,}|^[\\\\/]+\\.[\\\\/]*$|[\\\\/]\\.{3,}|\\.{4,}[\\\\/]|^[\\\\/]\\w{60,}',
    },
    targets: ['args', 'keys'],
  },
  {
    id: 'lfi-140',
    family: 'lfi',
    pl: 1,
    severity: 'critical',
    plain: true,
    title: 'File or filesystem-wrapper URL',
    match: { regex: '\\bfile\\s*:\\s*(?:[\\\\/]|[a-z]:)|\\bfile\\s*:\\s*\\w' },
    targets: ANY,
  },
  {
    id: 'lfi-150',
    family: 'lfi',
    pl: 2,
    severity: 'critical',
    title: 'Absolute filesystem path (Unix root directories or Windows drive)',
    match: {
      regex:
        '^\\s*(?:[a-z]:[\\\\/]|\\\\\\\\[\\w.]+\\\\|/(?:etc|proc|sys|var|usr|bin|sbin|root|home|tmp|dev|opt|boot|lib|srv|mnt)(?:[\\\\/]|$))',
    },
    targets: ['args'],
  },
  {
    id: 'lfi-160',
    family: 'lfi',
    pl: 1,
    severity: 'critical',
    title: 'Traversal in the request path',
    match: { regex: '(?:^|[\\\\/])\\.{2,}(?:[\\\\/]|$)|[\\\\/]\\.(?:[\\\\/]|$)' },
    targets: ['path'],
  },
  // Remote file inclusion: a URL where the application expects a local resource.
  {
    id: 'rfi-100',
    family: 'rfi',
    pl: 1,
    severity: 'critical',
    title: 'URL whose host is an IP address literal',
    match: {
      regex:
        '\\b(?:https?|ftps?|gopher|dict|ldaps?|tftp|smb|sftp)\\s*:\\s*(?:[\\\\/]{2}|%2f%2f)\\s*(?:[^@/\\s]*@)?(?:\\d{1,3}(?:\\.\\d{1,3}){3}|\\[?[0-9a-f]{0,4}:[0-9a-f:.]*:[0-9a-f.]*\\]?|0x[0-9a-f]+|\\d{8,10})(?:[:/?#\\s]|$)',
    },
    targets: ['args', 'keys', 'path'],
  },
  {
    id: 'rfi-120',
    family: 'rfi',
    pl: 1,
    severity: 'critical',
    title: 'URL scheme ending in "?" (query-truncation of an include)',
    match: { regex: '^\\s*(?:file|ftps?|https?)\\b[^?]*\\?+\\s*$' },
    targets: ['args'],
  },
  {
    id: 'rfi-130',
    family: 'rfi',
    pl: 2,
    severity: 'critical',
    title: 'Any absolute URL in a parameter (off-site reference)',
    match: { regex: '\\b[a-z][\\w+.-]{1,12}:(?://|[\\\\/]{2}|file:)|^(?:url|jar|local_file|netdoc):' },
    targets: ['args', 'path'],
  },
  // SSRF: URLs towards loopback, link-local metadata services, private ranges or odd schemes.
  {
    id: 'ssrf-100',
    family: 'ssrf',
    pl: 1,
    severity: 'critical',
    title: 'URL towards loopback, private, link-local or cloud-metadata hosts',
    match: {
      regex:
        '\\b[a-z][\\w+.-]{1,12}:(?://?|\\\\\\\\)?\\s*(?:[^@/\\s]*@)?\\[?(?:localhost\\b|0[0-7]{8,11}\\b|\\d{1,3}\\.\\d{5,8}\\b|\\d{1,3}\\.\\d{1,3}\\.\\d{4,5}\\b|0[0-7]{2,3}\\.0[0-7]{2,3}\\.|127\\.\\d+\\.\\d+\\.\\d+|0(?:\\.0){0,3}(?:[:/]|$|\\])|10\\.\\d+\\.\\d+\\.\\d+|192\\.168\\.|172\\.(?:1[6-9]|2\\d|3[01])\\.|169\\.254\\.|100\\.(?:6[4-9]|[7-9]\\d|1[01]\\d|12[0-7])\\.|192\\.0\\.0\\.|::1?\\]|::ffff:|0:0:0:0:0:(?:0|ffff):|fe80:|f[cd][0-9a-f]{2}:|0x[0-9a-f]{1,8}\\b|0[0-7]{1,3}\\.|\\d{8,10}(?:[:/]|$)|metadata(?:\\.google\\.internal)?\\b|instance-data\\b|[\\w.-]*\\.internal\\b|[\\w.-]*\\.local\\b|[\\w.-]*\\.localhost\\b|kubernetes(?:\\.default)?\\b|[\\w.-]*\\.svc(?:\\.cluster\\.local)?\\b|[\\w.-]*\\.(?:nip|xip|sslip)\\.io\\b|localtest\\.me\\b|burpcollaborator\\.net\\b|oast\\.\\w+\\b|interact\\.sh\\b)',
    },
    targets: ['args', 'keys', 'path', 'referer'],
  },
  {
    id: 'ssrf-110',
    family: 'ssrf',
    pl: 1,
    severity: 'critical',
    plain: true,
    title: 'Scheme that reaches non-HTTP services (gopher, dict, ldap, tftp, jar, netdoc …)',
    match: {
      regex:
        '\\b(?:gopher|dict|ldaps?|tftp|jar|netdoc|sftp|smb|rmi|iiop|jndi|ws|wss|telnet|ssh|redis|mysql|postgres(?:ql)?|mongodb|memcached|zookeeper|unix):(?://|[a-z]+:)|\\bunix:[^|\\s]*\\|',
    },
    targets: ['args', 'keys', 'path'],
  },
  {
    id: 'ssrf-120',
    family: 'ssrf',
    pl: 1,
    severity: 'critical',
    plain: true,
    title: 'Internal host names and metadata addresses without a scheme',
    match: {
      regex:
        '@\\s*(?:127\\.\\d|localhost\\b|169\\.254\\.|0x7f|2130706433\\b|\\[?::1\\b)|(?:^|[\\s@/=])(?:169\\.254\\.169\\.254|metadata\\.google\\.internal|100\\.100\\.100\\.200|fd00:ec2::254|kubernetes\\.default(?:\\.svc)?(?:\\.cluster\\.local)?|[\\w-]+\\.[\\w-]+\\.svc\\.cluster\\.local)\\b',
    },
    targets: ['args', 'keys', 'path'],
  },
  {
    id: 'ssrf-130',
    family: 'ssrf',
    pl: 2,
    severity: 'critical',
    title: 'URL with credentials, backslash or encoded authority tricks (parser confusion)',
    match: {
      regex:
        '\\b[a-z][\\w+.-]{1,12}:(?://|\\\\\\\\)[^\\s/?#]*(?:@[^\\s/?#]*@|\\\\|%2f|%40|%5c)|\\bhttps?://\\[[0-9a-f:.]+\\]|\\bhttps?:/{3,}|\\bhttps?://[^\\s/]*\\\\',
    },
    targets: ['args', 'keys', 'path'],
  },
];
