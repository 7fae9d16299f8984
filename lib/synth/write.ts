// Writes the synthetic vessel dataset as real image files in ImageFolder layout.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { native } from '../../binding/index.js';
import { renderVesselImage, VESSEL_KINDS, type VesselKind } from './vessels.js';
import { mixSeed } from '../rng.js';

export interface VesselDatasetOptions {
  out: string;
  /** images per class */
  perClass: number;
  size: number;
  seed: number;
  format?: 'jpg' | 'png';
}

/** Deterministic: the same options write the same files. Existing files are kept. */
export function writeVesselDataset(opts: VesselDatasetOptions): { files: number; classes: VesselKind[] } {
  const ext = opts.format ?? 'jpg';
  let files = 0;
  VESSEL_KINDS.forEach((kind, k) => {
    const dir = join(opts.out, kind);
    mkdirSync(dir, { recursive: true });
    for (let i = 0; i < opts.perClass; i++) {
      const path = join(dir, `${kind}_${String(i).padStart(4, '0')}.${ext}`);
      files++;
      if (existsSync(path)) continue;
      const rgb = renderVesselImage(kind, opts.size, mixSeed(opts.seed, k * 1_000_003 + i));
      native().encodeImage(path, rgb, opts.size, opts.size, 92);
    }
  });
  return { files, classes: [...VESSEL_KINDS] };
}
