// CE-NBI lesion types -> benign/malignant. The paper counts squamous cell
// carcinoma, high-grade dysplasia and carcinoma in situ as malignant and every
// other histopathology as benign. Spreadsheets spell names loosely
// ("High-grade  dysplasia", "SCC"), so names are compared after folding case,
// hyphens, underscores and runs of spaces. A JSON mapping file overrides or
// extends the built-in table.
import { readFileSync } from 'node:fs';

export type BinaryClass = 'benign' | 'malignant';
export const CENBI_CLASSES: BinaryClass[] = ['benign', 'malignant'];

export type LesionMapping = Map<string, BinaryClass>;

export function normaliseLesion(name: string): string {
  return name.toLowerCase().replace(/[-_]+/g, ' ').replace(/\s+/g, ' ').trim();
}

const BUILT_IN_MALIGNANT = ['squamous cell carcinoma', 'high grade dysplasia', 'carcinoma in situ', 'scc'];

function asClass(value: unknown): BinaryClass | undefined {
  if (typeof value !== 'string') return undefined;
  const v = normaliseLesion(value);
  return v === 'benign' || v === 'malignant' ? v : undefined;
}

/** Validates a parsed mapping object ({"lesion": "benign"|"malignant"}). */
export function mappingFromObject(value: unknown, source: string): LesionMapping {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error(`mapping ${source} must be a JSON object like {"cyst": "benign", "SCC": "malignant"}`);
  const map: LesionMapping = new Map();
  const bad: string[] = [];
  for (const [key, v] of Object.entries(value)) {
    const cls = asClass(v);
    if (cls) map.set(normaliseLesion(key), cls);
    else bad.push(`'${key}': ${JSON.stringify(v)}`);
  }
  if (bad.length > 0) throw new Error(`mapping ${source}: values must be "benign" or "malignant"; bad entries: ${bad.join(', ')}`);
  return map;
}

/** Reads a mapping file, or validates an inline object; none gives an empty mapping. */
export function loadMapping(mapping: string | Record<string, string> | undefined): LesionMapping {
  if (mapping === undefined) return new Map();
  if (typeof mapping !== 'string') return mappingFromObject(mapping, '(inline)');
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(mapping, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read mapping file ${mapping}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return mappingFromObject(parsed, mapping);
}

export interface Classified {
  cls: BinaryClass;
  /** Why: the mapping file, a class name, the built-in malignant list, or the benign default. */
  how: 'mapping' | 'class name' | 'built-in' | 'default benign';
}

/** A histopathology (lesion type) -> class; every non-malignant type is benign. */
export function classifyLesion(lesion: string, mapping: LesionMapping): Classified {
  const key = normaliseLesion(lesion);
  const mapped = mapping.get(key);
  if (mapped) return { cls: mapped, how: 'mapping' };
  const named = asClass(key);
  if (named) return { cls: named, how: 'class name' };
  if (BUILT_IN_MALIGNANT.includes(key)) return { cls: 'malignant', how: 'built-in' };
  return { cls: 'benign', how: 'default benign' };
}

/** A benign/malignant label cell -> class, through the mapping; undefined if unknown. */
export function classifyLabel(label: string, mapping: LesionMapping): BinaryClass | undefined {
  return mapping.get(normaliseLesion(label)) ?? asClass(label);
}
