// Writes the synthetic domains as real image files in ImageFolder layout:
// out/<class>/<class>_<index>.<ext>. The same options write byte-identical
// files; files already present are kept, so an interrupted run resumes (the
// native encoder writes atomically, so a present file is a complete one).
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { native } from '../../binding/index.js';
import { BRIDGE_CLASSES, checkTwist, renderBridgeImage } from './bridge.js';
import { FUNDUS_LEVELS, renderFundusImage } from './fundus.js';
import { SOURCE_CLASSES, renderSourceImage } from './textures.js';
import { renderVesselImage, VESSEL_KINDS, type VesselKind } from './vessels.js';
import { mixSeed } from '../util/rng.js';

export type SynthDomain = 'target' | 'intermediate' | 'source' | 'bridge';
export const SYNTH_DOMAINS: readonly SynthDomain[] = ['target', 'intermediate', 'source', 'bridge'];
export type SynthFormat = 'jpg' | 'png';

interface DomainSpec {
  classes: readonly string[];
  /** smallest image side the renderer accepts */
  minSize: number;
  render(classIndex: number, size: number, seed: number, twist: number): Uint8Array;
}

const DOMAINS: Record<SynthDomain, DomainSpec> = {
  target: { classes: VESSEL_KINDS, minSize: 8, render: (k, size, seed) => renderVesselImage(VESSEL_KINDS[k]!, size, seed) },
  intermediate: { classes: FUNDUS_LEVELS.map(String), minSize: 16, render: (k, size, seed) => renderFundusImage(FUNDUS_LEVELS[k]!, size, seed) },
  source: { classes: SOURCE_CLASSES, minSize: 8, render: (k, size, seed) => renderSourceImage(k, size, seed) },
  bridge: { classes: BRIDGE_CLASSES, minSize: 16, render: (k, size, seed, twist) => renderBridgeImage(BRIDGE_CLASSES[k]!, twist, size, seed) },
};

const JPEG_QUALITY = 92;
export const DEFAULT_TWIST = 0.5;

/** Class names of a domain, in label order (the ImageFolder loader sorts them by name). */
export function synthClasses(domain: SynthDomain): string[] {
  return [...specOf(domain).classes];
}

function specOf(domain: SynthDomain): DomainSpec {
  if (!SYNTH_DOMAINS.includes(domain)) throw new Error(`unknown synthetic domain '${String(domain)}' (expected ${SYNTH_DOMAINS.join(', ')})`);
  return DOMAINS[domain];
}

/** n images spread over the classes as evenly as possible; the first classes take the remainder. */
export function balancedCounts(n: number, classes: number): number[] {
  return Array.from({ length: classes }, (_, k) => Math.floor(n / classes) + (k < n % classes ? 1 : 0));
}

/**
 * Seed of image `index` of class `classIndex`. Fixed per (seed, class, index), so
 * growing n adds images without changing the existing ones.
 */
export function synthImageSeed(seed: number, classIndex: number, index: number): number {
  return mixSeed(seed, classIndex * 1_000_003 + index);
}

export interface SynthDatasetOptions {
  domain: SynthDomain;
  /** images in total, balanced over the domain's classes */
  n: number;
  size: number;
  seed: number;
  out: string;
  format?: SynthFormat;
  /** the bridge domain's vessel geometry: 0 radial, 1 twisted (default 0.5); other domains refuse it */
  twist?: number;
  /** called after each image (written or kept) */
  onProgress?: (done: number, total: number) => void;
}

export interface SynthClassCount {
  name: string;
  images: number;
  /** newly written (the rest were already there) */
  written: number;
}

export interface SynthDatasetResult {
  domain: SynthDomain;
  files: number;
  written: number;
  classes: SynthClassCount[];
}

function checkOptions(o: SynthDatasetOptions, spec: DomainSpec): void {
  const classes = spec.classes.length;
  if (!Number.isInteger(o.n) || o.n < classes) throw new Error(`n must be an integer >= ${classes} (one image per class) for domain '${o.domain}', got ${o.n}`);
  if (!Number.isInteger(o.size) || o.size < spec.minSize || o.size > 4096)
    throw new Error(`size must be an integer in [${spec.minSize}, 4096] for domain '${o.domain}', got ${o.size}`);
  if (!Number.isInteger(o.seed) || o.seed < 0 || o.seed > 0xffffffff) throw new Error(`seed must be an integer in [0, 2^32), got ${o.seed}`);
  if (o.twist !== undefined) {
    if (o.domain !== 'bridge') throw new Error(`twist applies to the bridge domain only, not '${o.domain}'`);
    checkTwist(o.twist);
  }
  if (o.format !== undefined && o.format !== 'jpg' && o.format !== 'png') throw new Error(`format must be jpg or png, got '${String(o.format)}'`);
}

export function synthFileName(cls: string, index: number, format: SynthFormat): string {
  return `${cls}_${String(index).padStart(4, '0')}.${format}`;
}

/** Writes a balanced synthetic ImageFolder for `domain`; deterministic and resumable. */
export function writeSynthDataset(o: SynthDatasetOptions): SynthDatasetResult {
  const spec = specOf(o.domain);
  checkOptions(o, spec);
  const format = o.format ?? 'jpg';
  const counts = balancedCounts(o.n, spec.classes.length);
  const classes: SynthClassCount[] = [];
  let done = 0;
  spec.classes.forEach((name, k) => {
    const dir = join(o.out, name);
    mkdirSync(dir, { recursive: true });
    let written = 0;
    for (let i = 0; i < counts[k]!; i++) {
      const path = join(dir, synthFileName(name, i, format));
      if (!existsSync(path)) {
        const rgb = spec.render(k, o.size, synthImageSeed(o.seed, k, i), o.twist ?? DEFAULT_TWIST);
        native().encodeImage(path, rgb, o.size, o.size, JPEG_QUALITY);
        written++;
      }
      o.onProgress?.(++done, o.n);
    }
    classes.push({ name, images: counts[k]!, written });
  });
  return { domain: o.domain, files: o.n, written: classes.reduce((a, c) => a + c.written, 0), classes };
}

export interface VesselDatasetOptions {
  out: string;
  /** images per class */
  perClass: number;
  size: number;
  seed: number;
  format?: 'jpg' | 'png';
}

/** The target domain with `perClass` images per class (the demo's data). Same files as before generalising. */
export function writeVesselDataset(opts: VesselDatasetOptions): { files: number; classes: VesselKind[] } {
  const r = writeSynthDataset({
    domain: 'target', n: opts.perClass * VESSEL_KINDS.length, size: opts.size, seed: opts.seed, out: opts.out,
    ...(opts.format ? { format: opts.format } : {}),
  });
  return { files: r.files, classes: [...VESSEL_KINDS] };
}
