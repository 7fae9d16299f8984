// ImageFolder datasets: one subfolder per class holding JPEG/PNG files.
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { labelKey } from './labels.js';
import { isDecodable, subfolders, walkFiles } from './walk.js';

export { IMAGE_EXTENSIONS } from './walk.js';

export interface LabelledImage {
  file: string;
  label: number;
}

export interface ImageFolderDataset {
  root: string;
  classes: string[];
  items: LabelledImage[];
}

/**
 * Reads `root` as an ImageFolder. Class index = position of the folder name in sorted
 * order (torchvision's rule). `classes` forces the class list (e.g. the training set's
 * for a validation or test folder); a folder outside it is an error. With `labelNormalize`, a
 * folder matches the class it differs from only in case, surrounding spaces or Unicode form.
 */
export function readImageFolder(root: string, classes?: string[], labelNormalize = false): ImageFolderDataset {
  const dir = resolve(root);
  if (!existsSync(dir)) throw new Error(`dataset folder ${root} does not exist`);
  if (!statSync(dir).isDirectory()) throw new Error(`dataset path ${root} is not a folder`);
  const found = subfolders(dir);
  if (found.length === 0)
    throw new Error(`dataset folder ${root} has no class subfolders (expected ${root}/<class>/<image>.jpg)`);
  const classList = classes ?? found;
  if (!classes && classList.length < 2)
    throw new Error(`dataset folder ${root} has only one class folder (${found[0]}); at least 2 are needed`);
  const items: LabelledImage[] = [];
  const empty: string[] = [];
  for (const name of found) {
    const exact = classList.indexOf(name);
    const label = exact < 0 && labelNormalize ? classList.findIndex((c) => labelKey(c) === labelKey(name)) : exact;
    if (label < 0)
      throw new Error(`dataset folder ${root} has class folder '${name}' that is not among the classes ${classList.join(', ')}`);
    const files = walkFiles(join(dir, name)).filter(isDecodable);
    if (files.length === 0) empty.push(name);
    for (const file of files) items.push({ file, label });
  }
  if (empty.length > 0)
    throw new Error(`dataset folder ${root}: class folder(s) with no JPEG/PNG images: ${empty.join(', ')}`);
  return { root: dir, classes: classList, items };
}
