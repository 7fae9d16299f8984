// Small real image datasets for tests, written with the native encoder.
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { writeVesselDataset } from '../../lib/synth/write.js';

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `thtl-${prefix}-`));
}

/** An ImageFolder (benign/, malignant/) of synthetic vessel JPEGs. */
export function vesselFolder(perClass: number, size = 48, seed = 7): string {
  const dir = join(tempDir('data'), 'images');
  mkdirSync(dir, { recursive: true });
  writeVesselDataset({ out: dir, perClass, size, seed });
  return dir;
}
