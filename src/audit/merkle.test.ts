import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  EMPTY_ROOT,
  leafHash,
  MerkleFrontier,
  MerkleTree,
  nodeHash,
  splitPoint,
  verifyConsistency,
  verifyInclusion,
} from './merkle.ts';

const unhex = (h: string) => Buffer.from(h, 'hex');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

// The Certificate Transparency reference inputs and tree heads (RFC 6962 test vectors, as used by
// the CT and Trillian code bases): leaf data, then the root for tree sizes 1..8.
const CT_DATA = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
].map(unhex);
const CT_ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const CT_INCLUSION = [
  {
    index: 0,
    size: 8,
    path: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    index: 5,
    size: 8,
    path: [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
];

/** The RFC 9162 §2.1.1 definition, literally: the reference the fast code is held to. */
function naiveRoot(leaves: readonly Uint8Array[]): Buffer {
  if (leaves.length === 0) return createHash('sha256').digest();
  if (leaves.length === 1) return leafHash(leaves[0]!);
  const k = splitPoint(leaves.length);
  return nodeHash(naiveRoot(leaves.slice(0, k)), naiveRoot(leaves.slice(k)));
}

const many = Array.from({ length: 70 }, (_, i) => createHash('sha256').update(`record ${i}`).digest());

describe('Merkle tree (RFC 9162 §2.1)', () => {
  it('matches the Certificate Transparency reference roots for sizes 0..8', () => {
    expect(hex(EMPTY_ROOT)).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    const tree = new MerkleTree(CT_DATA);
    const frontier = MerkleFrontier.empty();
    for (let n = 1; n <= 8; n++) {
      frontier.append(CT_DATA[n - 1]!);
      expect(hex(tree.root(n))).toBe(CT_ROOTS[n - 1]);
      expect(hex(frontier.root())).toBe(CT_ROOTS[n - 1]);
    }
  });

  it('produces the reference inclusion proofs, which verify', () => {
    const tree = new MerkleTree(CT_DATA);
    for (const v of CT_INCLUSION) {
      expect(tree.inclusionProof(v.index, v.size).map(hex)).toEqual(v.path);
      const ok = verifyInclusion(
        v.index,
        v.size,
        leafHash(CT_DATA[v.index]!),
        v.path.map(unhex),
        unhex(CT_ROOTS[v.size - 1]!),
      );
      expect(ok).toBe(true);
    }
    // A known consistency proof (2 -> 5).
    expect(tree.consistencyProof(2, 5).map(hex)).toEqual([
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ]);
  });

  it('the frontier, the in-memory tree and the literal definition agree for every size up to 70', () => {
    const tree = new MerkleTree(many);
    const frontier = MerkleFrontier.empty();
    for (let n = 1; n <= many.length; n++) {
      frontier.append(many[n - 1]!);
      const expected = hex(naiveRoot(many.slice(0, n)));
      expect(hex(frontier.root())).toBe(expected);
      expect(hex(tree.root(n))).toBe(expected);
      // A saved and restored frontier continues the same tree.
      const restored = MerkleFrontier.fromHex(n, frontier.toHex());
      expect(hex(restored.root())).toBe(expected);
    }
  });

  it('every inclusion proof verifies in every tree size; a wrong leaf, index or path does not', () => {
    const tree = new MerkleTree(many);
    for (let n = 1; n <= 40; n++) {
      const root = tree.root(n);
      for (let m = 0; m < n; m++) {
        const path = tree.inclusionProof(m, n);
        const leaf = leafHash(many[m]!);
        expect(verifyInclusion(m, n, leaf, path, root), `${m}/${n}`).toBe(true);
        expect(verifyInclusion(m, n, leafHash(many[m + 1]!), path, root)).toBe(false);
        if (n > 1) expect(verifyInclusion((m + 1) % n, n, leaf, path, root)).toBe(false);
        if (path.length > 0) {
          const flipped = path.map((p) => Buffer.from(p));
          flipped[0]![0]! ^= 1;
          expect(verifyInclusion(m, n, leaf, flipped, root)).toBe(false);
          expect(verifyInclusion(m, n, leaf, path.slice(0, -1), root)).toBe(false);
        }
        expect(verifyInclusion(m, n, leaf, [...path, Buffer.alloc(32)], root)).toBe(false);
      }
    }
  });

  it('every consistency proof verifies; mangled ones do not', () => {
    const tree = new MerkleTree(many);
    for (let second = 1; second <= 40; second++) {
      for (let first = 0; first <= second; first++) {
        const proof = tree.consistencyProof(first, second);
        const r1 = tree.root(first);
        const r2 = tree.root(second);
        expect(verifyConsistency(first, second, r1, r2, proof), `${first}->${second}`).toBe(true);
        if (first > 0 && first < second) {
          const flipped = proof.map((p) => Buffer.from(p));
          flipped[0]![3]! ^= 0x80;
          expect(verifyConsistency(first, second, r1, r2, flipped)).toBe(false);
          expect(verifyConsistency(first, second, r1, r2, proof.slice(0, -1))).toBe(false);
          expect(verifyConsistency(first, second, tree.root(first - 1), r2, proof)).toBe(false);
        }
      }
    }
  });

  it('refuses proofs outside the tree', () => {
    const tree = new MerkleTree(many.slice(0, 8));
    expect(() => tree.inclusionProof(8, 8)).toThrow(/not in a tree/);
    expect(() => tree.inclusionProof(0, 9)).toThrow(/beyond/);
    expect(() => tree.consistencyProof(5, 3)).toThrow(/not a prefix/);
    expect(verifyInclusion(8, 8, leafHash(many[0]!), [], tree.root())).toBe(false);
  });
});
