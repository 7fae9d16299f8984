// Finding image files on disk. Spreadsheets name images loosely (no extension,
// another letter case, a bare name while the archive nests folders), so an
// images folder is indexed once by relative path and by base name, and a name
// is looked up with each candidate extension, exact case first.
import { existsSync, statSync } from 'node:fs';
import { basename, extname, isAbsolute, join, relative, sep } from 'node:path';

import { isDecodable, walkFiles } from './walk.js';
import type { Problem } from './problems.js';

/** Image formats we recognise but cannot decode: reported, never silently ignored. */
export const UNSUPPORTED_IMAGE_EXTENSIONS = ['.bmp', '.tif', '.tiff', '.gif', '.webp', '.jp2', '.dcm'];

export { isDecodable, walkFiles };
export const isUnsupportedImage = (file: string): boolean =>
  UNSUPPORTED_IMAGE_EXTENSIONS.includes(extname(file).toLowerCase());

/** Patient id from a name like "Patient012_P012 (33).png", if present. */
export function patientFromName(path: string): string | undefined {
  const m = /(patient[\s_-]*\d+)/i.exec(basename(path)) ?? /(patient[\s_-]*\d+)/i.exec(path);
  return m?.[1];
}

export type FindResult = { file: string } | { problem: Pick<Problem, 'kind' | 'detail'> };

const toPosix = (p: string): string => p.split(sep).join('/');

export class FileIndex {
  private readonly exact = new Map<string, Set<string>>();
  private readonly folded = new Map<string, Set<string>>();

  private constructor(readonly dir: string) {}

  static build(dir: string): FileIndex {
    if (!existsSync(dir)) throw new Error(`image folder ${dir} does not exist`);
    if (!statSync(dir).isDirectory()) throw new Error(`image folder ${dir} is not a folder`);
    const index = new FileIndex(dir);
    for (const file of walkFiles(dir)) {
      index.put(toPosix(relative(dir, file)), file);
      index.put(basename(file), file);
    }
    return index;
  }

  private put(key: string, file: string): void {
    for (const [map, k] of [[this.exact, key], [this.folded, key.toLowerCase()]] as const) {
      const set = map.get(k) ?? new Set<string>();
      set.add(file);
      map.set(k, set);
    }
  }

  /** The file a sheet names by `ref` (a name or relative path, extension optional). */
  find(ref: string, extensions: readonly string[]): FindResult {
    const name = ref.trim().replace(/\\/g, '/').replace(/^\.\//, '');
    const tried = extensions.filter((e) => !name.toLowerCase().endsWith(e.toLowerCase()));
    // A sheet may name "x.png" for an archive holding "x.jpg": try the stem too.
    const ext = extname(name).toLowerCase();
    const stem = isDecodable(name) || isUnsupportedImage(name) ? name.slice(0, -ext.length) : undefined;
    const candidates = [name, ...tried.map((e) => `${name}${e}`), ...(stem ? tried.map((e) => `${stem}${e}`) : [])];
    if (isAbsolute(name)) {
      const hit = candidates.find((c) => existsSync(c));
      if (hit) return { file: hit };
    }
    for (const [map, norm] of [[this.exact, (s: string) => s], [this.folded, (s: string) => s.toLowerCase()]] as const) {
      for (const c of candidates) {
        const files = map.get(norm(c));
        if (!files) continue;
        const list = [...files];
        if (list.length === 1) return { file: list[0] as string };
        return { problem: { kind: 'ambiguous-file', detail: `'${ref}' matches ${list.length} files: ${list.slice(0, 5).join(', ')}` } };
      }
    }
    const exts = tried.length > 0 ? ` (tried ${tried.join(', ')})` : '';
    return { problem: { kind: 'missing-file', detail: `'${ref}' not found in ${this.dir}${exts}` } };
  }
}

/** The problem with a found file's format, if it cannot be decoded. */
export function formatProblem(file: string): Pick<Problem, 'kind' | 'detail'> | undefined {
  if (isDecodable(file)) return undefined;
  return { kind: 'unsupported-format', detail: `${file}: ${extname(file) || 'no extension'} cannot be decoded (only JPEG and PNG)` };
}
