/**
 * Structural limits on a JSON text, checked before it is parsed into objects: nesting depth,
 * members per object, items per array, string length, and duplicate keys. JSON.parse keeps the
 * last of two equal keys silently (RFC 8259 §4 leaves duplicates undefined), which lets a request
 * say one thing to a validator and another to a handler; we refuse it instead.
 *
 * A single pass over the text with no allocation for values; keys are decoded only when they
 * contain an escape, so `"a"` and `"\u0061"` are recognised as the same key.
 */
export interface JsonLimits {
  readonly maxDepth: number;
  readonly maxKeys: number;
  readonly maxItems: number;
  readonly maxStringLength: number;
}

export type JsonShapeViolation =
  | { kind: 'depth'; limit: number }
  | { kind: 'keys'; limit: number }
  | { kind: 'items'; limit: number }
  | { kind: 'string'; limit: number }
  | { kind: 'duplicate-key'; key: string };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

interface Frame {
  object: boolean;
  count: number;
  keys: Set<string> | undefined;
  expectKey: boolean;
}

/**
 * Returns the first violation, or undefined. Syntax errors are not reported here (the parser that
 * runs next does that); the scan only has to stay safe on malformed input.
 */
export function checkJsonShape(text: string, limits: JsonLimits): JsonShapeViolation | undefined {
  const stack: Frame[] = [];
  let top: Frame | undefined;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const start = i + 1;
      let escaped = false;
      i++;
      for (; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === BACKSLASH) {
          escaped = true;
          i++;
        } else if (d === QUOTE) break;
      }
      const raw = text.slice(start, i);
      if (raw.length > limits.maxStringLength) return { kind: 'string', limit: limits.maxStringLength };
      if (top && !top.object && ++top.count > limits.maxItems)
        return { kind: 'items', limit: limits.maxItems };
      if (top?.object && top.expectKey) {
        let key = raw;
        if (escaped) {
          try {
            key = JSON.parse(`"${raw}"`) as string;
          } catch {
            return undefined; // malformed: the parser will say so
          }
        }
        top.keys ??= new Set();
        if (top.keys.has(key)) return { kind: 'duplicate-key', key: key.slice(0, 64) };
        top.keys.add(key);
        top.expectKey = false;
      }
      continue;
    }
    switch (c) {
      case 0x7b /* { */:
      case 0x5b /* [ */:
        {
          if (stack.length >= limits.maxDepth) return { kind: 'depth', limit: limits.maxDepth };
          if (top && !top.object) {
            if (++top.count > limits.maxItems) return { kind: 'items', limit: limits.maxItems };
          }
          top = { object: c === 0x7b, count: 0, keys: undefined, expectKey: c === 0x7b };
          stack.push(top);
          break;
        }
      case 0x7d /* } */:
      case 0x5d /* ] */:
        stack.pop();
        top = stack[stack.length - 1];
        break;
      case 0x2c /* , */:
        if (top?.object) top.expectKey = true;
        break;
      case 0x3a /* : */:
        if (top?.object && ++top.count > limits.maxKeys) return { kind: 'keys', limit: limits.maxKeys };
        break;
      default:
        // A scalar inside an array counts as an item when it starts (not on whitespace).
        if (top && !top.object && c > 0x20 && isScalarStart(text, i)) {
          if (++top.count > limits.maxItems) return { kind: 'items', limit: limits.maxItems };
        }
    }
  }
  return undefined;
}

/** True at the first character of a number or literal (the previous non-space is `[` or `,`). */
function isScalarStart(text: string, i: number): boolean {
  for (let j = i - 1; j >= 0; j--) {
    const p = text.charCodeAt(j);
    if (p === 0x20 || p === 0x0a || p === 0x0d || p === 0x09) continue;
    return p === 0x5b || p === 0x2c;
  }
  return false;
}
