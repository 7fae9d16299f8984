// Folder datasets. ImageFolder: one subfolder per class (the training path's
// reader). CE-NBI folders: `root/<class or lesion>/.../*.png`, each top-level
// folder mapped to benign/malignant by name. In both, image files in formats
// we cannot decode are reported rather than skipped silently, and patient ids
// are taken from names like "Patient012_..." when present.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';

import { DatasetBuilder } from './builder.js';
import type { LoadOptions, LoadedSource } from './types.js';
import { formatProblem, isDecodable, isUnsupportedImage, patientFromName, walkFiles } from './files.js';
import { readImageFolder } from './imagefolder.js';
import { CENBI_CLASSES, classifyLesion, loadMapping } from './lesions.js';
import type { CenbiFoldersSpec, ImageFolderSpec } from './spec.js';
import { subfolders } from './walk.js';

const withGroup = (file: string, label: number, root: string): { file: string; label: number; group?: string } => {
  const group = patientFromName(relative(root, file));
  return group !== undefined ? { file, label, group } : { file, label };
};

function checkFolder(root: string): string {
  const dir = resolve(root);
  if (!existsSync(dir)) throw new Error(`dataset folder ${root} does not exist`);
  if (!statSync(dir).isDirectory()) throw new Error(`dataset path ${root} is not a folder`);
  return dir;
}

export function loadImageFolder(spec: ImageFolderSpec, options: LoadOptions): LoadedSource {
  const folder = readImageFolder(spec.root);
  const builder = new DatasetBuilder(`image folder ${folder.root}`, folder.classes);
  for (const it of folder.items) builder.add(withGroup(it.file, it.label, folder.root));
  // readImageFolder lists JPEG/PNG only; make the other image files visible.
  for (const file of walkFiles(folder.root).filter(isUnsupportedImage)) builder.reject([{ ...formatProblem(file)!, file }]);
  return builder.finish({ name: spec.name ?? basename(folder.root), root: folder.root }, options);
}

const topFolders = subfolders; // (class or lesion folders)

export function loadCenbiFolders(spec: CenbiFoldersSpec, options: LoadOptions): LoadedSource {
  const root = checkFolder(spec.root);
  const mapping = loadMapping(options.mapping ?? spec.mapping);
  const folders = topFolders(root);
  if (folders.length === 0) throw new Error(`CE-NBI folder ${root} has no subfolders (expected ${root}/<class or lesion>/<image>.png)`);
  const builder = new DatasetBuilder(`CE-NBI folders ${root}`, [...CENBI_CLASSES]);
  const notes: string[] = [];
  let ignored = 0;
  for (const folder of folders) {
    const { cls, how } = classifyLesion(folder, mapping);
    const files = walkFiles(join(root, folder));
    const images = files.filter(isDecodable);
    notes.push(`folder '${folder}' (${images.length} images) -> ${cls} (${how})`);
    for (const file of files) {
      if (isDecodable(file)) builder.add(withGroup(file, CENBI_CLASSES.indexOf(cls), root));
      else if (isUnsupportedImage(file)) builder.reject([{ ...formatProblem(file)!, file }]);
      else ignored += 1;
    }
  }
  if (ignored > 0) notes.push(`ignored ${ignored} non-image file(s)`);
  const loose = readdirSync(root).filter((n) => !n.startsWith('.') && isDecodable(n)).length;
  if (loose > 0) notes.push(`ignored ${loose} image(s) directly in ${root} (not in a class or lesion folder)`);
  return builder.finish({ name: spec.name ?? basename(root), root, notes }, options);
}
