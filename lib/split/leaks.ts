// No image may be in two of train/val/test: neither the same file (by its real path, so
// symbolic links and '..' count) nor a copy of it (the same bytes under another name).
// Hashing 11,000 images would be slow, so only files whose byte size occurs in more than
// one part are hashed. Runs before any image is decoded or any file written.
import { createHash } from 'node:crypto';
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { resolve } from 'node:path';

import type { SplitEntry } from './file.js';
import type { SplitName } from './stratified.js';

const PARTS: readonly SplitName[] = ['train', 'val', 'test'];

interface Seen {
  part: SplitName;
  file: string;
}

interface Leak {
  count: number;
  first: Seen;
  second: Seen;
  how: 'same file' | 'same content';
}

function realPath(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return resolve(file);
  }
}

function sizeOf(file: string): number | null {
  try {
    return statSync(file).size;
  } catch {
    return null;
  }
}

const hashOf = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

/** Refuses a split with an image in two of its parts (same real path or same bytes), with the count and an example. */
export function checkNoLeaks(split: Readonly<Record<SplitName, readonly SplitEntry[]>>): void {
  const leaks = new Map<string, Leak>();
  const record = (first: Seen, second: Seen, how: Leak['how']): void => {
    const key = `${first.part} ${second.part}`;
    const leak = leaks.get(key);
    if (leak) leak.count += 1;
    else leaks.set(key, { count: 1, first, second, how });
  };
  // By path: each real path with the first part listing it.
  const byPath = new Map<string, Seen>();
  for (const part of PARTS)
    for (const { file } of split[part]) {
      const real = realPath(file);
      const first = byPath.get(real);
      if (!first) byPath.set(real, { part, file });
      else if (first.part !== part) record(first, { part, file }, 'same file');
    }
  // By content: only sizes found in more than one part can be copies across parts.
  const sized = [...byPath].map(([real, seen]) => ({ real, seen, size: sizeOf(real) }));
  const partsOfSize = new Map<number, Set<SplitName>>();
  for (const { seen, size } of sized) if (size !== null) partsOfSize.set(size, (partsOfSize.get(size) ?? new Set()).add(seen.part));
  const byHash = new Map<string, Seen>();
  for (const { real, seen, size } of sized) {
    if (size === null || partsOfSize.get(size)!.size < 2) continue;
    const key = `${size} ${hashOf(real)}`;
    const first = byHash.get(key);
    if (!first) byHash.set(key, seen);
    else if (first.part !== seen.part) record(first, seen, 'same content');
  }
  if (leaks.size === 0) return;
  const ordered = [...leaks.values()].sort((a, b) => PARTS.indexOf(a.first.part) - PARTS.indexOf(b.first.part) || PARTS.indexOf(a.second.part) - PARTS.indexOf(b.second.part));
  const clauses = ordered.map(({ count, first, second, how }) => {
    const example = first.file === second.file ? `${first.file}, listed in both` : `${first.file} = ${second.file}, ${how}`;
    return `${count} image${count === 1 ? ' is' : 's are'} in both ${first.part} and ${second.part} (e.g. ${example})`;
  });
  const rule = ordered.some((l) => l.second.part === 'test')
    ? 'a test set must not share images with training or validation'
    : 'a validation set must not share images with training';
  throw new Error(`${clauses.join('; ')}; ${rule}`);
}

/** Refuses a seeded split of classes with fewer images than parts (one would be missing from a part). */
export function checkClassSizes(items: readonly { label: number }[], classes: readonly string[], parts: number): void {
  const counts = new Array<number>(classes.length).fill(0);
  for (const it of items) counts[it.label] = (counts[it.label] ?? 0) + 1;
  const small = classes.map((name, i) => ({ name, n: counts[i] ?? 0 })).filter((c) => c.n < parts);
  if (small.length === 0) return;
  const names = PARTS.slice(0, parts).join(', ');
  const images = (n: number): string => `${n} image${n === 1 ? '' : 's'}`;
  const [first] = small;
  if (small.length === 1)
    throw new Error(`class '${first!.name}' has ${images(first!.n)}, fewer than the ${parts} splits (${names}); add images or drop the class`);
  throw new Error(
    `classes ${small.map((c) => `'${c.name}' (${images(c.n)})`).join(', ')} have fewer images than the ${parts} splits (${names}); add images or drop them`,
  );
}
