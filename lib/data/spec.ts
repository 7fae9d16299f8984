// Dataset specs: the small JSON objects that name a dataset (see
// docs/DATASETS.md). Paths inside a spec file are relative to that file, so a
// spec can sit next to the data and be moved with it.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Fields every kind may have. */
interface SpecCommon {
  name?: string;
  /** The labels are grades in class order (0 < 1 < ...): the report adds quadratic weighted kappa and per-class AUC. */
  ordinal?: boolean;
}

export interface ImageFolderSpec extends SpecCommon {
  kind: 'imagefolder';
  root: string;
}

export interface ManifestSpec extends SpecCommon {
  kind: 'manifest';
  /** CSV with a header `path,label[,group]`. */
  csv: string;
  /** Folder the paths are relative to; default the CSV's folder. */
  root?: string;
}

export interface CenbiColumns {
  file?: string;
  label?: string;
  lesion?: string;
  patient?: string;
}

export type MappingSource = string | Record<string, string>;

export interface CenbiSpec extends SpecCommon {
  kind: 'cenbi';
  sheet: string;
  images: string;
  columns?: CenbiColumns;
  mapping?: MappingSource;
  extensions?: string[];
  /** Worksheet name in an .xlsx; default the first. */
  worksheet?: string;
}

export interface CenbiFoldersSpec extends SpecCommon {
  kind: 'cenbi-folders';
  root: string;
  mapping?: MappingSource;
}

/** Kaggle DR grades: ordinal unless the spec says `"ordinal": false`. */
export interface DrSpec extends SpecCommon {
  kind: 'dr';
  csv: string;
  images: string;
  extensions?: string[];
}

export type DatasetSpec = ImageFolderSpec | ManifestSpec | CenbiSpec | CenbiFoldersSpec | DrSpec;
export type DatasetKind = DatasetSpec['kind'];

const FIELDS: Record<DatasetKind, { required: string[]; paths: string[]; optional: string[] }> = {
  imagefolder: { required: ['root'], paths: ['root'], optional: ['name'] },
  manifest: { required: ['csv'], paths: ['csv', 'root'], optional: ['root', 'name'] },
  cenbi: {
    required: ['sheet', 'images'],
    paths: ['sheet', 'images', 'mapping'],
    optional: ['columns', 'mapping', 'extensions', 'worksheet', 'name'],
  },
  'cenbi-folders': { required: ['root'], paths: ['root', 'mapping'], optional: ['mapping', 'name'] },
  dr: { required: ['csv', 'images'], paths: ['csv', 'images'], optional: ['extensions', 'name'] },
};

function checkTypes(o: Record<string, unknown>, where: string): void {
  const strings = ['root', 'csv', 'sheet', 'images', 'worksheet', 'name'];
  for (const k of strings) if (k in o && typeof o[k] !== 'string') throw new Error(`${where}: '${k}' must be a string`);
  if ('ordinal' in o && typeof o.ordinal !== 'boolean') throw new Error(`${where}: 'ordinal' must be true or false, got ${JSON.stringify(o.ordinal)}`);
  if ('extensions' in o && !(Array.isArray(o.extensions) && o.extensions.every((e) => typeof e === 'string')))
    throw new Error(`${where}: 'extensions' must be a list of strings like [".png", ".jpg"]`);
  if ('columns' in o) {
    const c = o.columns;
    const ok = typeof c === 'object' && c !== null && !Array.isArray(c) && Object.values(c).every((v) => typeof v === 'string');
    if (!ok) throw new Error(`${where}: 'columns' must map file/label/lesion/patient to column names`);
  }
  if ('mapping' in o && typeof o.mapping !== 'string' && (typeof o.mapping !== 'object' || o.mapping === null))
    throw new Error(`${where}: 'mapping' must be a file name or an object`);
}

/**
 * Validates a parsed spec and resolves its paths against `baseDir`
 * (the spec file's folder, or the working directory for an object).
 */
export function parseSpec(value: unknown, baseDir: string, where = 'dataset spec'): DatasetSpec {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${where} must be a JSON object`);
  const o: Record<string, unknown> = { ...value };
  const kinds = Object.keys(FIELDS);
  if (typeof o.kind !== 'string' || !kinds.includes(o.kind))
    throw new Error(`${where}: 'kind' must be one of ${kinds.join(', ')}; got ${JSON.stringify(o.kind)}`);
  const fields = FIELDS[o.kind as DatasetKind];
  const missing = fields.required.filter((k) => o[k] === undefined);
  if (missing.length > 0) throw new Error(`${where}: kind '${o.kind}' needs ${missing.map((k) => `'${k}'`).join(', ')}`);
  const known = new Set(['kind', 'ordinal', ...fields.required, ...fields.optional]);
  const unknown = Object.keys(o).filter((k) => !known.has(k));
  if (unknown.length > 0) throw new Error(`${where}: unknown field(s) ${unknown.join(', ')} for kind '${o.kind}'`);
  checkTypes(o, where);
  for (const k of fields.paths) if (typeof o[k] === 'string') o[k] = resolve(baseDir, o[k] as string);
  return o as unknown as DatasetSpec;
}

/** Reads and validates a spec file. */
export function readSpecFile(path: string): DatasetSpec {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read dataset spec ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return parseSpec(parsed, dirname(resolve(path)), `dataset spec ${path}`);
}
