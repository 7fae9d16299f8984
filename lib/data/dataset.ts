// The one in-memory shape every dataset source is loaded into, and
// loadDataset, which turns a path or a spec into it. See docs/DATASETS.md.
import { existsSync, openSync, readSync, closeSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';

import { loadCenbiSheet } from './cenbi.js';
import { loadDr } from './dr.js';
import { loadCenbiFolders, loadImageFolder } from './folders.js';
import { loadManifest } from './manifest.js';
import { type DatasetSpec, parseSpec, readSpecFile } from './spec.js';
import type { LoadedDataset, LoadedSource, LoadOptions } from './types.js';

export type { DatasetSpec } from './spec.js';
export type { SkippedEntry } from './problems.js';

export type { Dataset, DatasetItem, LoadedDataset, LoadOptions } from './types.js';

/** First line of a text file, to tell a DR label file from a manifest. */
function headerOf(path: string): string[] {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(4096);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const line = buf.subarray(0, n).toString('utf8').replace(/^\uFEFF/, '').split(/\r?\n|\r/)[0] ?? '';
    return line.split(/[,;\t]/).map((c) => c.trim().replace(/^"|"$/g, '').toLowerCase());
  } finally {
    closeSync(fd);
  }
}

function csvSpec(path: string): DatasetSpec {
  const header = headerOf(path);
  if (header.includes('image') && header.includes('level')) {
    // Kaggle's layout: trainLabels.csv next to train/; otherwise images beside the CSV.
    const train = join(dirname(path), 'train');
    const images = existsSync(train) && statSync(train).isDirectory() ? train : dirname(path);
    return { kind: 'dr', csv: path, images };
  }
  return { kind: 'manifest', csv: path };
}

/** The spec a bare path stands for. */
export function specFromPath(path: string, options: LoadOptions = {}): DatasetSpec {
  const full = resolve(path);
  if (!existsSync(full)) throw new Error(`dataset ${path} does not exist`);
  if (statSync(full).isDirectory())
    return options.mapping !== undefined ? { kind: 'cenbi-folders', root: full } : { kind: 'imagefolder', root: full };
  const ext = extname(full).toLowerCase();
  if (ext === '.json') return readSpecFile(full);
  if (ext === '.csv') return csvSpec(full);
  if (ext === '.xlsx' || ext === '.xls')
    throw new Error(
      `${path}: a spreadsheet needs a spec naming its images folder and columns, e.g. ` +
        `{"kind": "cenbi", "sheet": "${basename(full)}", "images": "images", "columns": {"file": "Image", "lesion": "Histopathology", "patient": "Patient"}} (see docs/DATASETS.md)`,
    );
  throw new Error(`dataset ${path}: expected a folder, a .csv manifest or a .json spec`);
}

/** Loads a dataset from a path (folder, .csv, .json) or a spec object. */
export async function loadDataset(spec: string | DatasetSpec, options: LoadOptions = {}): Promise<LoadedDataset> {
  const s = typeof spec === 'string' ? specFromPath(spec, options) : parseSpec(spec, process.cwd());
  const loaded = await loadKind(s, options);
  // graded labels: a spec's "ordinal"; DR levels are grades of severity unless the spec says otherwise
  return { ...loaded, ordinal: s.ordinal ?? s.kind === 'dr' };
}

function loadKind(s: DatasetSpec, options: LoadOptions): LoadedSource | Promise<LoadedSource> {
  switch (s.kind) {
    case 'imagefolder':
      return loadImageFolder(s, options);
    case 'manifest':
      return loadManifest(s, options);
    case 'cenbi':
      return loadCenbiSheet(s, options);
    case 'cenbi-folders':
      return loadCenbiFolders(s, options);
    case 'dr':
      return loadDr(s, options);
  }
}
