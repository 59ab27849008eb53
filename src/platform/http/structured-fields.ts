/**
 * The part of RFC 8941 (Structured Field Values) that HTTP Message Signatures need: Dictionaries
 * whose members are Items or Inner Lists, with Parameters, and their serialization. Parsing is
 * strict (§4.2): anything outside the grammar fails the whole field, as the RFC requires.
 */

export type BareItem =
  | { readonly type: 'integer'; readonly value: number }
  | { readonly type: 'decimal'; readonly value: number }
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'token'; readonly value: string }
  | { readonly type: 'bytes'; readonly value: Buffer }
  | { readonly type: 'boolean'; readonly value: boolean };

/** Parameters in their order of appearance (a later duplicate overrides, §4.2.3.2). */
export type Params = ReadonlyArray<readonly [string, BareItem]>;

export interface Item {
  readonly kind: 'item';
  readonly value: BareItem;
  readonly params: Params;
}

export interface InnerList {
  readonly kind: 'inner';
  readonly items: readonly Item[];
  readonly params: Params;
}

export type Member = Item | InnerList;

export class StructuredFieldError extends Error {
  constructor(message: string) {
    super(`RFC 8941: ${message}`);
    this.name = 'StructuredFieldError';
  }
}

const KEY_START = /[a-z*]/;
const KEY_CHAR = /[a-z0-9_\-.*]/;
const TOKEN_START = /[A-Za-z*]/;
const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z:/]/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

class Parser {
  i = 0;
  constructor(readonly s: string) {}

  fail(what: string): never {
    throw new StructuredFieldError(`${what} at offset ${this.i}`);
  }
  peek(): string | undefined {
    return this.s[this.i];
  }
  skipSp(): void {
    while (this.s[this.i] === ' ') this.i++;
  }
  skipOws(): void {
    while (this.s[this.i] === ' ' || this.s[this.i] === '\t') this.i++;
  }

  key(): string {
    const c = this.peek();
    if (c === undefined || !KEY_START.test(c)) this.fail('expected a key');
    const start = this.i;
    while (this.i < this.s.length && KEY_CHAR.test(this.s[this.i]!)) this.i++;
    return this.s.slice(start, this.i);
  }

  params(): Params {
    const out: Array<readonly [string, BareItem]> = [];
    while (this.peek() === ';') {
      this.i++;
      this.skipSp();
      const k = this.key();
      let v: BareItem = { type: 'boolean', value: true };
      if (this.peek() === '=') {
        this.i++;
        v = this.bareItem();
      }
      const at = out.findIndex(([n]) => n === k);
      if (at >= 0) out.splice(at, 1);
      out.push([k, v]);
    }
    return out;
  }

  bareItem(): BareItem {
    const c = this.peek();
    if (c === undefined) this.fail('expected an item');
    if (c === '-' || (c >= '0' && c <= '9')) return this.number();
    if (c === '"') return this.string();
    if (c === ':') return this.bytes();
    if (c === '?') return this.boolean();
    if (TOKEN_START.test(c)) return this.token();
    return this.fail('unexpected character');
  }

  number(): BareItem {
    const m = /^-?(\d{1,15})(\.\d{1,3})?/.exec(this.s.slice(this.i));
    if (!m) this.fail('bad number');
    if (!m[2] && m[1]!.length > 15) this.fail('integer too long');
    if (m[2] && m[1]!.length > 12) this.fail('decimal too long');
    this.i += m[0].length;
    const next = this.peek();
    if (next !== undefined && /[0-9.]/.test(next)) this.fail('bad number');
    return m[2] ? { type: 'decimal', value: Number(m[0]) } : { type: 'integer', value: Number(m[0]) };
  }

  string(): BareItem {
    this.i++;
    let out = '';
    for (;;) {
      const c = this.s[this.i++];
      if (c === undefined) this.fail('unterminated string');
      if (c === '\\') {
        const n = this.s[this.i++];
        if (n !== '"' && n !== '\\') this.fail('bad escape');
        out += n;
      } else if (c === '"') {
        return { type: 'string', value: out };
      } else {
        const code = c.charCodeAt(0);
        if (code < 0x20 || code > 0x7e) this.fail('non-printable character in string');
        out += c;
      }
    }
  }

  token(): BareItem {
    const start = this.i;
    this.i++;
    while (this.i < this.s.length && TOKEN_CHAR.test(this.s[this.i]!)) this.i++;
    return { type: 'token', value: this.s.slice(start, this.i) };
  }

  bytes(): BareItem {
    this.i++;
    const end = this.s.indexOf(':', this.i);
    if (end < 0) this.fail('unterminated byte sequence');
    const text = this.s.slice(this.i, end);
    if (!BASE64.test(text)) this.fail('bad base64');
    this.i = end + 1;
    return { type: 'bytes', value: Buffer.from(text, 'base64') };
  }

  boolean(): BareItem {
    const v = this.s.slice(this.i, this.i + 2);
    if (v !== '?0' && v !== '?1') this.fail('bad boolean');
    this.i += 2;
    return { type: 'boolean', value: v === '?1' };
  }

  item(): Item {
    const value = this.bareItem();
    return { kind: 'item', value, params: this.params() };
  }

  member(): Member {
    if (this.peek() !== '(') return this.item();
    this.i++;
    const items: Item[] = [];
    for (;;) {
      this.skipSp();
      if (this.peek() === ')') {
        this.i++;
        return { kind: 'inner', items, params: this.params() };
      }
      items.push(this.item());
      const c = this.peek();
      if (c !== ' ' && c !== ')') this.fail('bad inner list');
    }
  }

  dictionary(): Map<string, Member> {
    const out = new Map<string, Member>();
    this.skipSp();
    if (this.i >= this.s.length) return out;
    for (;;) {
      const k = this.key();
      let m: Member;
      if (this.peek() === '=') {
        this.i++;
        m = this.member();
      } else {
        m = { kind: 'item', value: { type: 'boolean', value: true }, params: this.params() };
      }
      // A repeated key: the last one wins, in the position of the first (§4.2.2).
      out.set(k, m);
      this.skipOws();
      if (this.i >= this.s.length) return out;
      if (this.peek() !== ',') this.fail('expected a comma');
      this.i++;
      this.skipOws();
      if (this.i >= this.s.length) this.fail('trailing comma');
    }
  }
}

/** Parses a Dictionary field value (several field lines joined with ", "). */
export function parseDictionary(value: string): Map<string, Member> {
  return new Parser(value.trim()).dictionary();
}

/** Parses one Item (a component identifier such as `"@query-param";name="Pet"`). */
export function parseItem(value: string): Item {
  const p = new Parser(value.trim());
  const item = p.item();
  if (p.i !== p.s.length) p.fail('trailing characters');
  return item;
}

export function serializeBareItem(v: BareItem): string {
  switch (v.type) {
    case 'integer':
      if (!Number.isInteger(v.value) || Math.abs(v.value) > 999_999_999_999_999)
        throw new StructuredFieldError('integer out of range');
      return String(v.value);
    case 'decimal':
      return Number.isInteger(v.value) ? `${v.value}.0` : String(Math.round(v.value * 1000) / 1000);
    case 'string':
      if (!/^[\x20-\x7e]*$/.test(v.value)) throw new StructuredFieldError('string outside printable ASCII');
      return `"${v.value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
    case 'token':
      return v.value;
    case 'bytes':
      return `:${v.value.toString('base64')}:`;
    case 'boolean':
      return v.value ? '?1' : '?0';
  }
}

export function serializeParams(params: Params): string {
  return params
    .map(([k, v]) => (v.type === 'boolean' && v.value ? `;${k}` : `;${k}=${serializeBareItem(v)}`))
    .join('');
}

export function serializeItem(item: Item): string {
  return serializeBareItem(item.value) + serializeParams(item.params);
}

export function serializeInnerList(list: InnerList): string {
  return `(${list.items.map(serializeItem).join(' ')})${serializeParams(list.params)}`;
}

/** A Dictionary, members in order; `label=(...)` for inner lists and items alike. */
export function serializeDictionary(dict: ReadonlyMap<string, Member>): string {
  return [...dict]
    .map(([k, m]) => {
      if (m.kind === 'inner') return `${k}=${serializeInnerList(m)}`;
      if (m.value.type === 'boolean' && m.value.value) return `${k}${serializeParams(m.params)}`;
      return `${k}=${serializeItem(m)}`;
    })
    .join(', ');
}

export const sf = {
  string: (value: string): BareItem => ({ type: 'string', value }),
  integer: (value: number): BareItem => ({ type: 'integer', value }),
  token: (value: string): BareItem => ({ type: 'token', value }),
  bytes: (value: Buffer): BareItem => ({ type: 'bytes', value }),
  flag: (): BareItem => ({ type: 'boolean', value: true }),
};

/** The value of parameter `name`, if present. */
export function param(params: Params, name: string): BareItem | undefined {
  return params.find(([k]) => k === name)?.[1];
}
