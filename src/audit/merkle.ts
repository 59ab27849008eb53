/**
 * Merkle trees as in Certificate Transparency (RFC 6962 §2.1, restated by RFC 9162 §2.1), over the
 * audit records in sequence order. Leaf i (0-based) is record i + 1; its leaf data is the record's
 * 32-byte hash. Pure functions on Buffers: the offline bundle verifier uses them as they are.
 *
 *   leaf hash  SHA-256(0x00 || d)                 (RFC 9162 §2.1.1)
 *   node hash  SHA-256(0x01 || left || right)     (RFC 9162 §2.1.1)
 *   MTH({})    SHA-256()                          (RFC 9162 §2.1.1)
 */
import { hash } from 'node:crypto';
import { AuditError } from './errors.ts';

const HASH_LEN = 32;

/** MTH({}) = SHA-256 of the empty string (RFC 9162 §2.1.1). */
export const EMPTY_ROOT: Buffer = hash('sha256', Buffer.alloc(0), 'buffer');

// Scratch buffers for the prefixed inputs: one-shot `crypto.hash` over one buffer is about twice
// as fast as createHash().update()… for these tiny inputs, and verification hashes every leaf.
const leafInput = Buffer.alloc(1 + HASH_LEN);
const nodeInput = Buffer.alloc(1 + 2 * HASH_LEN);
nodeInput[0] = 0x01;

export function leafHash(data: Uint8Array): Buffer {
  if (data.length !== HASH_LEN) return hash('sha256', Buffer.concat([Buffer.from([0x00]), data]), 'buffer');
  leafInput.set(data, 1); // leafInput[0] stays 0x00
  return hash('sha256', leafInput, 'buffer');
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length !== HASH_LEN || right.length !== HASH_LEN)
    return hash('sha256', Buffer.concat([Buffer.from([0x01]), left, right]), 'buffer');
  nodeInput.set(left, 1);
  nodeInput.set(right, 1 + HASH_LEN);
  return hash('sha256', nodeInput, 'buffer');
}

/** The largest power of two smaller than n (n > 1): RFC 9162 §2.1.1's split point k. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * The compact state of a growing tree: the roots of its perfect subtrees, left to right (sizes
 * are the binary digits of `size`, largest first). Appending is amortised O(1) and the root is
 * O(log n), so checkpoints and verification never revisit old leaves.
 */
export class MerkleFrontier {
  private constructor(
    private readonly nodes: Buffer[],
    private count: number,
  ) {}

  static empty(): MerkleFrontier {
    return new MerkleFrontier([], 0);
  }

  /** Restores a frontier saved with `toHex` for a tree of `size` leaves. */
  static fromHex(size: number, hashes: readonly string[]): MerkleFrontier {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError('bad frontier size');
    if (hashes.length !== popcount(size)) throw new RangeError('frontier does not match its size');
    const nodes = hashes.map((h) => {
      const b = Buffer.from(h, 'hex');
      if (b.length !== HASH_LEN || b.toString('hex') !== h) throw new RangeError('bad frontier hash');
      return b;
    });
    return new MerkleFrontier(nodes, size);
  }

  get size(): number {
    return this.count;
  }

  /** Appends one leaf, given as its leaf data (the record hash). */
  append(data: Uint8Array): void {
    this.appendLeafHash(leafHash(data));
  }

  appendLeafHash(leaf: Buffer): void {
    let node = leaf;
    // Each trailing 1 bit of the old size is a perfect subtree of the new leaf's size: merge.
    for (let s = this.count; s % 2 === 1; s = Math.floor(s / 2)) node = nodeHash(this.nodes.pop()!, node);
    this.nodes.push(node);
    this.count += 1;
  }

  /**
   * MTH of the leaves so far. Folding the perfect subtrees from the right gives exactly the RFC
   * 9162 §2.1.1 recursion: its split point k is the largest perfect subtree on the left.
   */
  root(): Buffer {
    if (this.nodes.length === 0) return EMPTY_ROOT;
    let r = this.nodes[this.nodes.length - 1]!;
    for (let i = this.nodes.length - 2; i >= 0; i--) r = nodeHash(this.nodes[i]!, r);
    return r;
  }

  toHex(): string[] {
    return this.nodes.map((n) => n.toString('hex'));
  }

  clone(): MerkleFrontier {
    return new MerkleFrontier([...this.nodes], this.count);
  }
}

function popcount(n: number): number {
  let c = 0;
  for (let x = n; x > 0; x = Math.floor(x / 2)) c += x % 2;
  return c;
}

/**
 * A whole tree held in memory, for proofs: every complete (perfect, aligned) subtree hash is
 * computed once, level by level, so a proof costs O(log² n) hashes. Built from the leaf data of
 * records 1..n (their hashes); about 64 bytes of memory per leaf, in one buffer per level.
 */
export class MerkleTree {
  /** levels[h] holds the hashes of the perfect subtrees of 2^h leaves, left to right, 32 bytes each. */
  private readonly levels: Buffer[];
  readonly size: number;

  constructor(leafData: readonly Uint8Array[]) {
    this.size = leafData.length;
    const leaves = Buffer.allocUnsafe(this.size * HASH_LEN);
    leafData.forEach((d, i) => {
      leafHash(d).copy(leaves, i * HASH_LEN);
    });
    this.levels = [leaves];
    for (let level = leaves; level.length > HASH_LEN; ) {
      const count = Math.floor(level.length / HASH_LEN / 2);
      const up = Buffer.allocUnsafe(count * HASH_LEN);
      for (let i = 0; i < count; i++) {
        const at = 2 * i * HASH_LEN;
        nodeHash(level.subarray(at, at + HASH_LEN), level.subarray(at + HASH_LEN, at + 2 * HASH_LEN)).copy(
          up,
          i * HASH_LEN,
        );
      }
      this.levels.push(up);
      level = up;
    }
  }

  /** MTH(D[lo:hi]) where the range is a subtree of RFC 9162's recursion. */
  private mth(lo: number, hi: number): Buffer {
    const n = hi - lo;
    if (n === 0) return EMPTY_ROOT;
    // A perfect subtree aligned on its size is stored.
    if (isPowerOfTwo(n) && lo % n === 0) {
      const at = (lo / n) * HASH_LEN;
      return this.levels[Math.round(Math.log2(n))]!.subarray(at, at + HASH_LEN);
    }
    const k = splitPoint(n);
    return nodeHash(this.mth(lo, lo + k), this.mth(lo + k, hi));
  }

  /** MTH of the first `size` leaves (default: all). */
  root(size = this.size): Buffer {
    this.checkSize(size);
    return Buffer.from(this.mth(0, size));
  }

  /** PATH(m, D[0:size]) of RFC 9162 §2.1.3.1, leaf side first. */
  inclusionProof(index: number, size = this.size): Buffer[] {
    this.checkSize(size);
    if (!Number.isSafeInteger(index) || index < 0 || index >= size)
      throw new AuditError('AUDIT_PROOF_RANGE', `leaf ${index} is not in a tree of ${size}`);
    const path: Buffer[] = [];
    const walk = (m: number, lo: number, hi: number) => {
      const n = hi - lo;
      if (n <= 1) return;
      const k = splitPoint(n);
      if (m < k) {
        walk(m, lo, lo + k);
        path.push(this.mth(lo + k, hi));
      } else {
        walk(m - k, lo + k, hi);
        path.push(this.mth(lo, lo + k));
      }
    };
    walk(index, 0, size);
    return path.map((b) => Buffer.from(b));
  }

  /** PROOF(m, D[0:size]) of RFC 9162 §2.1.4.1: the first `first` leaves are a prefix of `size`. */
  consistencyProof(first: number, size = this.size): Buffer[] {
    this.checkSize(size);
    if (!Number.isSafeInteger(first) || first < 0 || first > size)
      throw new AuditError('AUDIT_PROOF_RANGE', `tree size ${first} is not a prefix of ${size}`);
    if (first === 0 || first === size) return [];
    const proof: Buffer[] = [];
    // SUBPROOF(m, D[lo:hi], b)
    const sub = (m: number, lo: number, hi: number, b: boolean) => {
      const n = hi - lo;
      if (m === n) {
        if (!b) proof.push(this.mth(lo, hi));
        return;
      }
      const k = splitPoint(n);
      if (m <= k) {
        sub(m, lo, lo + k, b);
        proof.push(this.mth(lo + k, hi));
      } else {
        sub(m - k, lo + k, hi, false);
        proof.push(this.mth(lo, lo + k));
      }
    };
    sub(first, 0, size, true);
    return proof.map((b) => Buffer.from(b));
  }

  private checkSize(size: number): void {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.size)
      throw new AuditError('AUDIT_PROOF_RANGE', `tree size ${size} is beyond the ${this.size} leaves held`);
  }
}

/** Exact for every safe integer (bitwise operators would stop at 2^31). */
function isPowerOfTwo(n: number): boolean {
  return n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

const isHash = (b: unknown): b is Uint8Array => b instanceof Uint8Array && b.length === HASH_LEN;

/**
 * Verifies an inclusion proof (RFC 9162 §2.1.3.2): that the leaf with hash `leaf` (already
 * `leafHash(data)`) is leaf `index` of the tree of `size` leaves whose root is `root`.
 */
export function verifyInclusion(
  index: number,
  size: number,
  leaf: Uint8Array,
  path: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false;
  if (!isHash(leaf) || !isHash(root) || !Array.isArray(path) || !path.every(isHash)) return false;
  // Step 2: fn = leaf_index, sn = tree_size - 1, r = hash. Numbers stay below 2^53: plain division.
  let fn = index;
  let sn = size - 1;
  let r: Uint8Array = leaf;
  for (const p of path) {
    if (sn === 0) return false; // step 3a
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r); // step 3b
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2); // step 3c
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && Buffer.compare(r, root) === 0; // step 4
}

/**
 * Verifies a consistency proof (RFC 9162 §2.1.4.2): that the tree of `first` leaves with root
 * `firstRoot` is a prefix of the tree of `second` leaves with root `secondRoot`.
 */
export function verifyConsistency(
  first: number,
  second: number,
  firstRoot: Uint8Array,
  secondRoot: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(second) || first < 0 || first > second)
    return false;
  if (!isHash(firstRoot) || !isHash(secondRoot) || !Array.isArray(proof) || !proof.every(isHash))
    return false;
  // Degenerate cases the algorithm leaves to the caller: equal trees, and the empty tree.
  if (first === second) return proof.length === 0 && Buffer.compare(firstRoot, secondRoot) === 0;
  if (first === 0) return proof.length === 0 && Buffer.compare(firstRoot, EMPTY_ROOT) === 0;
  if (proof.length === 0) return false; // step 1
  // Step 2: if first is an exact power of 2, prepend first_hash.
  const path = isPowerOfTwo(first) ? [firstRoot, ...proof] : [...proof];
  let fn = first - 1; // step 3
  let sn = second - 1;
  while (fn % 2 === 1) {
    // step 4
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr: Uint8Array = path[0]!; // step 5
  let sr: Uint8Array = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) return false; // step 6a
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr); // step 6b
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2); // step 6c
    sn = Math.floor(sn / 2);
  }
  return Buffer.compare(fr, firstRoot) === 0 && Buffer.compare(sr, secondRoot) === 0 && sn === 0; // step 7
}
