// Walking image folders: one set of rules for every dataset loader. Hidden files and
// macOS zip debris ("__MACOSX/", "._x.png") are never images or classes; symbolic links
// to files and folders are followed.
import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';

/** The image formats the decoder reads (by content; these are the names it expects). */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png'];

export const isDecodable = (file: string): boolean => IMAGE_EXTENSIONS.includes(extname(file).toLowerCase());

export const skipName = (name: string): boolean => name.startsWith('.') || name === '__MACOSX';

const isDirEntry = (dir: string, entry: { name: string; isDirectory(): boolean; isSymbolicLink(): boolean }): boolean =>
  entry.isDirectory() || (entry.isSymbolicLink() && statSync(join(dir, entry.name), { throwIfNoEntry: false })?.isDirectory() === true);

/** Every regular file under `dir`, recursively, sorted by path. */
export function walkFiles(dir: string): string[] {
  const out: string[] = [];
  const visit = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      if (skipName(entry.name)) continue;
      const path = join(d, entry.name);
      if (isDirEntry(d, entry)) visit(path);
      else if (entry.isFile() || entry.isSymbolicLink()) out.push(path);
    }
  };
  visit(dir);
  return out.sort();
}

/** The folders directly in `dir` (class or lesion folders), sorted by name. */
export function subfolders(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => !skipName(e.name) && isDirEntry(dir, e))
    .map((e) => e.name)
    .sort();
}
