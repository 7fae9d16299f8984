// `thtl-native cam`: LayerCAM maps of a trained model (as in the paper) for chosen images,
// written as figures (PNG: image, then one jet overlay per layer with a colour bar),
// raw maps (.npy) and a JSON summary. `--compare RUN2` adds a second model's row under
// the first, as the paper compares ** and ++ models.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';

import { native } from '../../binding/index.js';
import type { ImageSet } from '../../binding/data.js';
import type { LayerCamResult, NativeSession } from '../../binding/session.js';
import { readSplitFile, type SplitEntry } from '../split/index.js';
import { consoleProgress, type ProgressSink } from '../util/progress.js';
import type { CamRow } from '../report/cam-figure.js';
import { writeNpy } from '../report/npy.js';
import { loadTrainedModel } from '../train/trained-model.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/runfolder.js';
import { setTorchThreads } from '../util/threads.js';

export { runLabel } from '../train/trained-model.js';

export interface CamOptions {
  /** run folder (config.json + weights.safetensors or best.ckpt) */
  run?: string;
  /** a weights file (.safetensors, .pth) or checkpoint (.ckpt); model and classes from config.json beside it, or given */
  checkpoint?: string;
  model?: string;
  classes?: string[];
  inputSize?: number;
  /** image files, every one explained (a run's skipped images are refused) */
  images?: string[];
  /** or images of the run's split (round robin over classes, so limit 2 gives one of each of 2 classes), less those the run skipped */
  split?: 'train' | 'val' | 'test';
  /** at most this many images picked from split (default 4); images are all explained */
  limit?: number;
  layers?: string[];
  /** 'pred', a class name or a class index */
  cls: string;
  fusion: 'none' | 'max' | 'mean';
  compare?: string;
  out: string;
  device: string;
  threads: number;
}

/** An image a run left out (`--skip-bad-images`), as its skipped-images.json lists it. */
export interface SkippedImage {
  split: string;
  file?: string;
  reason: string;
}

/** The images a run folder's skipped-images.json lists ([] when the run skipped none). */
export function readSkippedImages(runDir: string): SkippedImage[] {
  const path = join(resolve(runDir), 'skipped-images.json');
  if (!existsSync(path)) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!Array.isArray(parsed)) throw new Error(`${path} is not a list of skipped images`);
  return parsed as SkippedImage[];
}

/** Round robin over classes in split order: the first n images cover the classes evenly. */
export function pickImages(entries: readonly SplitEntry[], n: number): SplitEntry[] {
  const byClass = new Map<number, SplitEntry[]>();
  for (const e of entries) byClass.set(e.label, [...(byClass.get(e.label) ?? []), e]);
  const queues = [...byClass.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
  const out: SplitEntry[] = [];
  for (let i = 0; out.length < n && queues.some((q) => i < q.length); i++) for (const q of queues) if (i < q.length && out.length < n) out.push(q[i]!);
  return out;
}

function classIndex(cls: string, classes: string[]): number {
  if (cls === 'pred') return -1;
  const named = classes.indexOf(cls);
  if (named >= 0) return named;
  const n = Number(cls);
  if (Number.isInteger(n) && n >= 0 && n < classes.length) return n;
  throw new Error(`--class '${cls}' is not 'pred', a class name (${classes.join(', ')}) or an index 0..${classes.length - 1}`);
}

/** CHW uint8 -> HWC uint8 for the figure. */
function toHwc(chw: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size * size * 3);
  const plane = size * size;
  for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) out[p * 3 + c] = chw[c * plane + p]!;
  return out;
}

/** A file name stem per file, unique among them: a repeated stem gets -2, -3, ... */
export function uniqueStems(files: readonly string[]): string[] {
  const stems = new Map<string, number>();
  return files.map((file) => {
    const stem = basename(file, extname(file));
    const seen = stems.get(stem) ?? 0;
    stems.set(stem, seen + 1);
    return seen > 0 ? `${stem}-${seen + 1}` : stem;
  });
}

/** The batch of images one LayerCAM call takes (one forward and one backward pass). */
const CAM_BATCH = 16;

/**
 * `predict --cam`: the LayerCAM map of each of `images` (an index of `set`, its file and
 * the class explained), the model's default layers fused per pixel by their maximum,
 * blended in jet colours over the image as one PNG of the image's size, written into
 * `out` as <stem>.png. Resolves with the files written, in order.
 */
export async function writeCamOverlays(session: NativeSession, set: ImageSet, images: readonly { index: number; file: string; cls: number }[], out: string): Promise<string[]> {
  const { overlayJet } = await import('../report/cam-figure.js'); // sharp loads only when maps are drawn
  mkdirSync(out, { recursive: true });
  const stems = uniqueStems(images.map((i) => i.file));
  const files: string[] = [];
  for (let start = 0; start < images.length; start += CAM_BATCH) {
    const batch = images.slice(start, start + CAM_BATCH);
    const r = await session.layerCamImages(set, batch.map((i) => i.index), { classes: batch.map((i) => i.cls), fusion: 'max' });
    const plane = r.height * r.width;
    for (const [k, { index }] of batch.entries()) {
      const image = { width: set.size, height: set.size, rgb: toHwc(set.pixels(index), set.size) };
      const file = join(out, `${stems[start + k]!}.png`);
      native().encodeImage(file, overlayJet(image, r.fused!.subarray(k * plane, (k + 1) * plane)), set.size, set.size);
      files.push(file);
    }
  }
  return files;
}

export interface CamSummary {
  image: string;
  label: string | null;
  figure: string;
  models: { label: string; layers: string[]; class: string; probability: number; maps: string }[];
}

export async function runCam(o: CamOptions, progress: ProgressSink = consoleProgress()): Promise<CamSummary[]> {
  if (o.threads) setTorchThreads(o.threads); // 0 leaves the count as it is
  if (o.run && o.checkpoint) throw new Error('give run or checkpoint, not both');
  const skipped = new Map<string, SkippedImage>();
  if (o.run) for (const s of readSkippedImages(o.run)) if (s.file) skipped.set(resolve(s.file), s);
  const explicit = (o.images ?? []).map((f) => resolve(f));
  for (const file of explicit) {
    const s = skipped.get(file);
    if (s) throw new Error(`${file} was skipped by run ${resolve(o.run!)} (${s.reason}), so it cannot be explained`);
  }
  const main = await loadTrainedModel(o);
  const models = [main];
  if (o.compare) {
    const other = await loadTrainedModel({ run: o.compare, device: o.device });
    if (other.inputSize !== main.inputSize) throw new Error(`--compare ${o.compare} takes ${other.inputSize}px input, the first model ${main.inputSize}px`);
    if (other.classes.join() !== main.classes.join()) throw new Error(`--compare ${o.compare} has classes ${other.classes.join(', ')}, the first model ${main.classes.join(', ')}`);
    models.push(other);
  }
  let items: { file: string; label: number | null }[];
  if (explicit.length > 0) items = explicit.map((file) => ({ file, label: null }));
  else {
    const splitPath = main.split;
    if (!splitPath || !existsSync(splitPath)) throw new Error('give --images FILES, or --run DIR (whose split.json provides --split)');
    const name = o.split ?? 'test';
    const entries = readSplitFile(splitPath)[name];
    const usable = entries.filter((e) => !skipped.has(resolve(e.file)));
    if (usable.length < entries.length)
      progress.line(`left out ${entries.length - usable.length} image(s) of the ${name} split that the run skipped (listed in ${join(resolve(o.run!), 'skipped-images.json')})`);
    items = pickImages(usable, o.limit ?? 4).map((e) => ({ file: e.file, label: e.label }));
  }
  if (items.length === 0) throw new Error('no images to explain');
  const set = await native().ImageSet.build(items.map((i) => i.file), main.inputSize, {});
  if (set.failures().length > 0) throw new Error(`cannot read ${set.failures()[0]!.file}: ${set.failures()[0]!.reason}`);
  const cls = classIndex(o.cls, main.classes);
  const { renderCamFigure } = await import('../report/cam-figure.js'); // sharp loads only when figures are drawn
  const out = resolve(o.out);
  mkdirSync(out, { recursive: true });
  const summary: CamSummary[] = [];
  const stems = uniqueStems(items.map((i) => i.file));
  let seconds = 0;
  let layers = 0;
  for (let start = 0; start < items.length; start += CAM_BATCH) {
    const indices = Array.from({ length: Math.min(CAM_BATCH, items.length - start) }, (_, k) => start + k);
    const t0 = Date.now();
    const results: LayerCamResult[] = [];
    for (const m of models)
      results.push(await m.session.layerCamImages(set, indices, { ...(o.layers ? { layers: o.layers } : {}), classes: cls, fusion: o.fusion }));
    seconds += (Date.now() - t0) / 1000;
    layers = results[0]!.layers.length;
    for (const [k, i] of indices.entries()) {
      const item = items[i]!;
      const stem = stems[i]!;
      const image = { width: set.size, height: set.size, rgb: toHwc(set.pixels(i), set.size) };
      const rows: CamRow[] = [];
      const entry: CamSummary = { image: item.file, label: item.label === null ? null : main.classes[item.label]!, figure: `${stem}.png`, models: [] };
      for (const [j, m] of models.entries()) {
        const r = results[j]!;
        const plane = r.height * r.width;
        const c = r.classes[k]!;
        const probability = r.probs[k * r.numClasses + c]!;
        const maps = r.maps.subarray(k * r.layers.length * plane, (k + 1) * r.layers.length * plane);
        const mapsFile = `${stem}${j === 0 ? '' : `.compare`}.npy`;
        writeNpy(join(out, mapsFile), maps, [r.layers.length, r.height, r.width]);
        const panels = r.layers.map((layer, l) => ({ layer, map: maps.subarray(l * plane, (l + 1) * plane) }));
        if (r.fused) panels.push({ layer: `fused (${o.fusion})`, map: r.fused.subarray(k * plane, (k + 1) * plane) });
        rows.push({ label: m.label, image, panels, className: m.classes[c]!, probability });
        entry.models.push({ label: m.label, layers: r.layers, class: m.classes[c]!, probability, maps: mapsFile });
      }
      const fig = await renderCamFigure(rows, { title: `${basename(item.file)}${entry.label ? ` (true class: ${entry.label})` : ''}` });
      writeFileAtomic(join(out, `${stem}.png`), fig.png);
      summary.push(entry);
    }
  }
  progress.line(`LayerCAM: ${items.length} image(s) x ${layers} layer(s) x ${models.length} model(s) in ${seconds.toFixed(2)}s`);
  writeJsonAtomic(join(out, 'cam.json'), { seconds, images: summary });
  return summary;
}
