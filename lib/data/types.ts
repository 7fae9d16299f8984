// What every dataset loader produces and takes (lib/data/dataset.ts picks the loader).
import type { SkippedEntry } from './problems.js';

export interface DatasetItem {
  /** Absolute path of the image. */
  file: string;
  /** Index into `classes`. */
  label: number;
  /** Patient id (or another unit that must stay in one split). */
  group?: string;
}

export interface Dataset {
  name: string;
  root: string;
  classes: string[];
  items: DatasetItem[];
}

export interface LoadedDataset extends Dataset {
  /** What was read, for messages: "CE-NBI sheet /x/sheet.xlsx". */
  source: string;
  /** Entries dropped with skipBad, each with its reason (empty otherwise). */
  skipped: SkippedEntry[];
  /** How the source was interpreted (columns used, lesion mapping, ...). */
  notes: string[];
  /** The labels are grades in class order: DR levels, or a spec's `"ordinal": true`. */
  ordinal: boolean;
}

/** What a loader of one kind of source gives; loadDataset adds whether the labels are ordinal (from the spec). */
export type LoadedSource = Omit<LoadedDataset, 'ordinal'>;

export interface LoadOptions {
  /** Drop rows/files with a missing file, unmapped label, duplicate or unsupported format, listing them in `skipped`. */
  skipBad?: boolean;
  /** Merge class names that differ only in case, surrounding spaces or Unicode form (refused otherwise). */
  labelNormalize?: boolean;
  /** Lesion/label mapping file; overrides the spec's. A folder path with a mapping is read as CE-NBI folders. */
  mapping?: string;
}
