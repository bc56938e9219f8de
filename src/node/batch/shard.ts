/**
 * Deterministic sharding: `--shard k/n` keeps the items whose stable hash of the id falls in bucket
 * k of n. Every worker computes the same partition from the id alone — no coordination, no
 * dependence on input order, file system listing order or machine — so n workers (a Kubernetes
 * Indexed Job, a Slurm array) together process every item exactly once. k counts from 0, like
 * JOB_COMPLETION_INDEX and a Slurm array declared `--array=0-(n-1)`.
 */
import { createHash } from 'node:crypto';

export interface Shard {
  /** 0 <= index < count */
  index: number;
  count: number;
}

/** Parses "k/n"; throws an Error that says what is wrong with the text. */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) throw new Error(`--shard must look like k/n (e.g. 0/4), got '${text}'`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1) throw new Error(`--shard ${text}: the shard count must be at least 1`);
  if (index >= count) throw new Error(`--shard ${text}: the index counts from 0 and must be below ${count}`);
  return { index, count };
}

/** The shard an id belongs to: the first 4 bytes of its SHA-256, modulo the shard count. */
export function shardOf(id: string, count: number): number {
  return createHash('sha256').update(id, 'utf8').digest().readUInt32BE(0) % count;
}

export function inShard(id: string, shard: Shard): boolean {
  return shard.count === 1 || shardOf(id, shard.count) === shard.index;
}
