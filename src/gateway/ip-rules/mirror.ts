import type { Database } from '../../platform/db/index.ts';
import { isUuid, uuidv7 } from '../../platform/ids.ts';
import type { Kv } from '../../platform/kv/index.ts';
import { parseCidr } from './cidr.ts';
import { activeBlockRecords, lock } from './store.ts';
import type { BlockRecord } from './types.ts';

/**
 * The KV mirror of the active temporary blocks: how every instance learns of a new block at once.
 * Two keys: the whole active set as one document (`BLOCKS_KEY`), and a generation id
 * (`GENERATION_KEY`) that changes with every write. An instance reads the small generation key to
 * know whether to re-read the document; the document carries its generation too, so a reader that
 * lands between the two writes (document first, then generation) simply takes the newer document.
 *
 * The document is always written whole, from the database, under the blocks lock (`BLOCKS_LOCK`):
 * writers are serialised, each sees the others' committed rows, so the mirror can never lose a
 * block to a race, and a mirror lost altogether (Redis restarted empty, or an evicted memory entry)
 * is rebuilt the same way.
 */
export const BLOCKS_KEY = 'ip-rules:blocks';
export const GENERATION_KEY = 'ip-rules:blocks-generation';
export const BLOCKS_LOCK = 'ip_blocks';

interface BlocksDocument {
  readonly v: 1;
  readonly generation: string;
  readonly blocks: readonly BlockRecord[];
}

export interface MirroredBlocks {
  readonly generation: string;
  readonly blocks: readonly BlockRecord[];
}

/** Writes the set as the new generation; the document first, so a new generation always has it. */
export async function writeMirror(kv: Kv, blocks: readonly BlockRecord[]): Promise<MirroredBlocks> {
  const generation = uuidv7();
  const doc: BlocksDocument = { v: 1, generation, blocks };
  await kv.set(BLOCKS_KEY, JSON.stringify(doc));
  await kv.set(GENERATION_KEY, generation);
  return { generation, blocks };
}

export function readGeneration(kv: Kv): Promise<string | undefined> {
  return kv.get(GENERATION_KEY);
}

/** The mirrored set, or undefined when it is missing or not what we wrote (then it is rebuilt). */
export async function readMirror(kv: Kv): Promise<MirroredBlocks | undefined> {
  const text = await kv.get(BLOCKS_KEY);
  if (text === undefined) return undefined;
  try {
    return decode(JSON.parse(text) as unknown);
  } catch {
    return undefined;
  }
}

/**
 * Reads the active blocks of every scope from the database and writes them to the mirror, in one
 * system transaction holding the blocks lock: how an engine repairs a lost mirror (and reconciles it
 * at start). Writers of blocks do the same inside their own transaction (IpRulesService).
 */
export async function rebuildMirror(db: Database, kv: Kv, now: () => number): Promise<MirroredBlocks> {
  return db.asSystem(async (tx) => {
    await lock(tx, BLOCKS_LOCK);
    return writeMirror(kv, await activeBlockRecords(tx, new Date(now())));
  });
}

/**
 * Shape check of what comes back from the store: it is shared with other software (Redis), so a
 * document we cannot fully vouch for is treated as missing — and rebuilt from the database —
 * rather than half-trusted.
 */
function decode(value: unknown): MirroredBlocks | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const doc = value as Partial<BlocksDocument>;
  if (doc.v !== 1 || typeof doc.generation !== 'string' || !Array.isArray(doc.blocks)) return undefined;
  const blocks: BlockRecord[] = [];
  for (const item of doc.blocks as unknown[]) {
    if (typeof item !== 'object' || item === null) return undefined;
    const b = item as Record<string, unknown>;
    const tenantId = b.tenantId ?? null;
    const clientId = b.clientId ?? null;
    if (
      typeof b.id !== 'string' ||
      !isUuid(b.id) ||
      typeof b.cidr !== 'string' ||
      parseCidr(b.cidr) === undefined ||
      typeof b.expiresAt !== 'number' ||
      !Number.isFinite(b.expiresAt) ||
      !(tenantId === null || (typeof tenantId === 'string' && isUuid(tenantId))) ||
      !(clientId === null || (typeof clientId === 'string' && tenantId !== null))
    ) {
      return undefined;
    }
    blocks.push({ id: b.id, tenantId, clientId, cidr: b.cidr, expiresAt: b.expiresAt });
  }
  return { generation: doc.generation, blocks };
}
