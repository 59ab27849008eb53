import { describe, expect, it } from 'vitest';
import { checkJsonShape, type JsonLimits } from './json-shape.ts';

const limits: JsonLimits = { maxDepth: 4, maxKeys: 3, maxItems: 3, maxStringLength: 10 };
const check = (value: string) => checkJsonShape(value, limits);

describe('checkJsonShape', () => {
  it('accepts JSON within every limit', () => {
    expect(check('{"a":1,"b":[1,2,"x"],"c":{"d":{"e":null}}}')).toBeUndefined();
    expect(check('"short"')).toBeUndefined();
    expect(check('[]')).toBeUndefined();
  });

  it('refuses nesting deeper than the limit', () => {
    expect(check('[[[[1]]]]')).toBeUndefined();
    expect(check('[[[[[1]]]]]')).toEqual({ kind: 'depth', limit: 4 });
    expect(check('{"a":{"b":{"c":{"d":{}}}}}')).toEqual({ kind: 'depth', limit: 4 });
  });

  it('refuses objects with too many members and arrays with too many items', () => {
    expect(check('{"a":1,"b":2,"c":3,"d":4}')).toEqual({ kind: 'keys', limit: 3 });
    expect(check('[1,2,3,4]')).toEqual({ kind: 'items', limit: 3 });
    expect(check('["a","b","c","d"]')).toEqual({ kind: 'items', limit: 3 });
    expect(check('[{},{},[],{}]')).toEqual({ kind: 'items', limit: 3 });
    expect(check('[ 1 , 2 , true ]')).toBeUndefined();
  });

  it('refuses long strings, keys included', () => {
    expect(check('{"a":"0123456789"}')).toBeUndefined();
    expect(check('{"a":"0123456789X"}')).toEqual({ kind: 'string', limit: 10 });
    expect(check('{"0123456789X":1}')).toEqual({ kind: 'string', limit: 10 });
  });

  it('refuses duplicate keys, even when spelled with escapes', () => {
    expect(check('{"a":1,"a":2}')).toEqual({ kind: 'duplicate-key', key: 'a' });
    expect(check('{"a":1,"\\u0061":2}')).toEqual({ kind: 'duplicate-key', key: 'a' });
    // the same key in sibling objects is fine
    expect(check('[{"a":1},{"a":2}]')).toBeUndefined();
    // a value equal to a key is not a key
    expect(check('{"a":"a","b":"a"}')).toBeUndefined();
  });

  it('is not fooled by structural characters inside strings', () => {
    expect(check('{"a":"[[[[[","b":"\\"{{{"}')).toBeUndefined();
  });

  it('stays safe on malformed input', () => {
    expect(() => check('{"a":')).not.toThrow();
    expect(() => check('"unterminated')).not.toThrow();
    expect(() => check(']]]}}}')).not.toThrow();
  });
});
