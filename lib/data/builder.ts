// Collects the items of a dataset while a loader walks its rows or folders,
// catching duplicates, and at the end either throws one error naming every bad
// entry or (skipBad) returns them as `skipped`. Empty classes are always an
// error: a class without images cannot be split or trained. Class names that differ only
// in case, spaces or Unicode form are refused here, or merged with labelNormalize.
import { mergeLabelVariants } from './labels.js';
import type { DatasetItem, LoadOptions, LoadedSource } from './types.js';
import { type Problem, problemsError, toSkipped } from './problems.js';

export interface BuildMeta {
  name: string;
  root: string;
  notes?: string[];
}

export class DatasetBuilder {
  private items: DatasetItem[] = [];
  private readonly bad: Problem[][] = [];
  private readonly seen = new Map<string, number | undefined>();

  /** `source` names the sheet/folder in messages; `classes` are fixed up front. */
  constructor(
    private readonly source: string,
    private classes: string[],
  ) {}

  /** Adds an item unless its file was already added (then it is a duplicate). */
  add(item: DatasetItem, row?: number): void {
    if (this.seen.has(item.file)) {
      const first = this.seen.get(item.file);
      const where = first !== undefined ? ` (first in row ${first})` : '';
      this.reject([{ kind: 'duplicate', row, file: item.file, detail: `${item.file}${where}` }]);
      return;
    }
    this.seen.set(item.file, row);
    this.items.push(item);
  }

  /** Records the problems of one entry (a row or a file); the entry is not added. */
  reject(problems: Problem[]): void {
    if (problems.length > 0) this.bad.push(problems);
  }

  finish(meta: BuildMeta, options: LoadOptions): LoadedSource {
    if (this.bad.length > 0 && !options.skipBad) throw problemsError(this.source, this.bad.flat());
    const skipped = this.bad.map(toSkipped);
    this.mergeVariants(options.labelNormalize ?? false);
    this.checkClasses(skipped.length);
    return { ...meta, classes: this.classes, items: this.items, source: this.source, skipped, notes: meta.notes ?? [] };
  }

  private mergeVariants(merge: boolean): void {
    const counts = new Array<number>(this.classes.length).fill(0);
    for (const it of this.items) counts[it.label] = (counts[it.label] ?? 0) + 1;
    const merged = mergeLabelVariants(this.source, this.classes, counts, merge);
    if (!merged) return;
    this.classes = merged.classes;
    this.items = this.items.map((it) => ({ ...it, label: merged.index[it.label]! }));
  }

  private checkClasses(skippedCount: number): void {
    if (this.classes.length < 2)
      throw new Error(`${this.source}: found ${this.classes.length} class(es) (${this.classes.join(', ')}); at least 2 are needed`);
    const counts = new Array<number>(this.classes.length).fill(0);
    for (const it of this.items) counts[it.label] = (counts[it.label] ?? 0) + 1;
    const empty = this.classes.filter((_, i) => counts[i] === 0);
    if (empty.length === 0) return;
    const after = skippedCount > 0 ? ` (after skipping ${skippedCount} bad entries)` : '';
    throw new Error(`${this.source}: class(es) with no images${after}: ${empty.join(', ')}`);
  }
}
