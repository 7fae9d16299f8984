// `thtl-native predict` / predictImages: a trained model's class probabilities for
// unlabelled images (files, or every JPEG/PNG under a folder, sorted). The images are
// decoded and run exactly as a run's test images are (decodeSplit, Session.evaluate with
// placeholder labels: the batched path of predictions.csv, without copying batches into
// JavaScript as Session.predict would), so the probabilities are the run's own; `tta:
// 'flip'` averages them with the mirrored images' (./tta.ts).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

import { writeCamOverlays } from '../cam/cam.js';
import { isDecodable, walkFiles } from '../data/walk.js';
import { csvCell } from '../data/csv.js';
import { csvProb } from '../train/predictions.js';
import { scaleProbs } from '../train/temperature.js';
import { argmax } from '../stats/metrics.js';
import { decodeSplit, resolveDevice } from '../train/runner.js';
import { modelSourceProblem, openTrainedModel, resolveTrainedModel, type ModelSource } from '../train/trained-model.js';
import { consoleProgress, type ProgressSink } from '../util/progress.js';
import { writeFileAtomic } from '../util/runfolder.js';
import { setTorchThreads } from '../util/threads.js';
import type { RunSettings } from './evaluate.js';
import { ttaProblem, ttaProbs, type Tta } from './tta.js';

export interface PredictOptions extends ModelSource, RunSettings {
  /** image files, or folders (every JPEG/PNG under them, sorted) */
  images: string[];
  /** the CSV to write (file, prob_<class>..., predicted); the API writes none without it */
  out?: string;
  /** replace an existing `out` file (and write the maps over those in the `camOut` folder) */
  force?: boolean;
  /** also write each image's LayerCAM map for its predicted class (a PNG; the CSV's `cam` column) */
  cam?: boolean;
  /** the maps' folder (default: cam/ beside `out`) */
  camOut?: string;
}

export interface PredictionRow {
  file: string;
  /** one probability per model class, in the model's class order */
  probs: number[];
  /** the predicted class's name */
  predicted: string;
  /** with `cam`: the map, relative to the CSV's folder (absolute without `out`) */
  cam?: string;
}

/** The one-line refusal of options that cannot run as given, or null (before any file is read). */
export function predictProblem(o: Partial<PredictOptions>): string | null {
  const source = modelSourceProblem(o);
  if (source) return source;
  if (!o.images || o.images.length === 0) return 'give --images FILES... or --images DIR';
  if (o.cacheDir !== undefined && o.noCache) return '--no-cache and --cache-dir cannot go together: --no-cache decodes into memory';
  const tta = ttaProblem(o.tta);
  if (tta) return tta;
  if (o.camOut !== undefined && !o.cam) return '--cam-out needs --cam: it names the folder of the LayerCAM maps';
  if (o.cam && o.out === undefined && o.camOut === undefined) return 'give out (the CSV) or camOut (a folder) with cam: the maps need a folder';
  if (o.out !== undefined && existsSync(o.out) && !o.force) return `${resolve(o.out)} exists; give --force to replace it`;
  const cams = o.cam ? camFolder(o) : null;
  if (cams && existsSync(cams) && readdirSync(cams).length > 0 && !o.force) return `${cams} holds files; give --force to write the LayerCAM maps over them`;
  return null;
}

/** The folder of the LayerCAM maps: `camOut`, else cam/ beside `out`. */
function camFolder(o: Partial<PredictOptions>): string {
  return resolve(o.camOut ?? join(dirname(resolve(o.out!)), 'cam'));
}

/** The image files `images` names: files as given, folders as every JPEG/PNG under them (sorted). */
export function imageFiles(images: readonly string[]): string[] {
  const files: string[] = [];
  for (const given of images) {
    const path = resolve(given);
    if (!existsSync(path)) throw new Error(`${path} does not exist`);
    if (statSync(path).isDirectory()) {
      const found = walkFiles(path).filter(isDecodable);
      if (found.length === 0) throw new Error(`${path} holds no JPEG or PNG images`);
      files.push(...found);
    } else files.push(path);
  }
  return files;
}

/** The CSV of predictImages' rows: file, prob_<class> per model class, predicted; then `tta` unless it is 'none', and `cam` when the rows have maps. */
export function predictCsv(classes: readonly string[], rows: readonly PredictionRow[], tta: Tta = 'none'): string {
  const cam = rows.some((r) => r.cam !== undefined);
  const head = ['file', ...classes.map((c) => `prob_${c}`), 'predicted', ...(tta === 'none' ? [] : ['tta']), ...(cam ? ['cam'] : [])];
  const lines = rows.map((r) => [r.file, ...r.probs, r.predicted, ...(tta === 'none' ? [] : [tta]), ...(cam ? [r.cam ?? ''] : [])].map(csvCell).join(','));
  return `${[head.map(csvCell).join(','), ...lines].join('\n')}\n`;
}

/** A trained model's probabilities for each image (writes `out` when given); resolves with the rows and the model's classes. */
export async function predictImages(o: PredictOptions, progress: ProgressSink = consoleProgress()): Promise<{ classes: string[]; tta: Tta; rows: PredictionRow[] }> {
  const problem = predictProblem(o);
  if (problem) throw new Error(problem);
  const tta = o.tta ?? 'none';
  const device = resolveDevice(o.device);
  const spec = resolveTrainedModel(o);
  const files = imageFiles(o.images);
  if (o.threads) setTorchThreads(o.threads);
  const model = await openTrainedModel(spec, device, true);
  try {
    const entries = files.map((file) => ({ file, label: 0 }));
    const set = await decodeSplit('images', entries, spec.inputSize, { threads: o.threads ?? 0, skipBadImages: false, cacheDir: o.cacheDir, noCache: o.noCache }, progress, undefined);
    const failed = set.failures();
    if (failed.length > 0) throw new Error(`${failed[0]!.file}: ${failed[0]!.reason}`);
    const batchSize = o.batchSize ?? spec.config?.batchSize ?? 32;
    const r = await model.session.evaluate(set, new Int32Array(entries.length), { batchSize });
    const { probs: raw } = await ttaProbs(tta, model.session, spec.model, set, r, batchSize);
    // a run calibrated with --calibrate temperature: its temperature applies
    const scaled = spec.temperature === null ? raw : scaleProbs(raw, spec.temperature);
    const rows: PredictionRow[] = scaled.map((p, i) => {
      const probs = p.map(csvProb);
      return { file: entries[r.indices[i]!]!.file, probs, predicted: spec.classes[argmax(probs)]! };
    });
    if (o.cam) {
      // the map of the unmirrored image, for the class the row predicts
      const dir = camFolder(o);
      const maps = await writeCamOverlays(model.session, set, rows.map((row, i) => ({ index: r.indices[i]!, file: row.file, cls: spec.classes.indexOf(row.predicted) })), dir);
      maps.forEach((file, i) => (rows[i]!.cam = o.out ? relative(dirname(resolve(o.out)), file) : file));
      progress.line(`LayerCAM maps of the predicted classes written to ${dir}`);
    }
    if (o.out) {
      writeFileAtomic(resolve(o.out), predictCsv(spec.classes, rows, tta));
      progress.line(`${spec.label}${tta === 'none' ? '' : ` (TTA ${tta})`}: ${rows.length} image(s) predicted; written to ${resolve(o.out)}`);
    }
    return { classes: spec.classes, tta, rows };
  } finally {
    await model.session.dispose();
  }
}
