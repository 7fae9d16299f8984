// One training run, start to finish: data -> split -> decode cache -> epochs with
// early stopping -> best weights restored -> test metrics -> run folder.
import { native } from '../../binding/index.js';
import type { ImageSet } from '../../binding/data.js';
import type { EvalResult, NativeSession } from '../../binding/session.js';
import type { ModelInfo } from '../../binding/models.js';
import { loadDataset } from '../data/dataset.js';
import { groupSplit } from '../data/group-split.js';
import { readImageFolder } from '../data/imagefolder.js';
import { defaultRemainder, readSplitFile, toEntries, writeSplitFile, type SplitEntry, type SplitFile } from '../data/split-file.js';
import { classificationReport, type ClassificationReport } from '../metrics.js';
import { consoleProgress, eta, formatDuration, type ProgressSink } from '../progress.js';
import { mixSeed } from '../rng.js';
import { RunFolder } from '../runfolder.js';
import { stratifiedSplit } from '../split.js';
import { resolveCacheDir, type TrainConfig } from './config.js';
import { EarlyStopping } from './early-stopping.js';

export interface EpochRecord {
  epoch: number;
  lr: number;
  train_loss: number;
  train_accuracy: number;
  val_loss: number;
  val_accuracy: number;
  seconds: number;
  best: boolean;
}

export interface RunResult {
  dir: string;
  classes: string[];
  epochsRun: number;
  bestEpoch: number;
  avgEpochSeconds: number;
  test: ClassificationReport | null;
  testLoss: number | null;
}

export function findModelInfo(name: string): ModelInfo {
  const all = native().models();
  const info = all.find((m) => m.name === name);
  if (!info) throw new Error(`unknown model '${name}' (known models: ${all.map((m) => m.name).join(', ')})`);
  return info;
}

/** The input size a run uses: the registry's, or an override the architecture allows. */
export function resolveInputSize(info: ModelInfo, requested?: number): number {
  if (requested === undefined) return info.inputSize;
  if (!Number.isInteger(requested) || requested < 32)
    throw new Error(`--input-size must be an integer >= 32, got ${requested}`);
  if (info.fixedInputSize && requested !== info.inputSize)
    throw new Error(`${info.name} only takes ${info.inputSize}x${info.inputSize} input (its position embeddings/windows are fixed)`);
  return requested;
}

/** The train/val/test assignment of a run: from --split-file, --val/--test, or a seeded split of --data. */
export async function buildSplit(cfg: TrainConfig): Promise<SplitFile> {
  if (cfg.splitFile) return readSplitFile(cfg.splitFile);
  const data = await loadDataset(cfg.data, { skipBad: cfg.skipBadImages });
  const base = { version: 1 as const, dataset: cfg.data, seed: cfg.seed, classes: data.classes, skipped: data.skipped };
  if (cfg.valDir || cfg.testDir) {
    if (!cfg.valDir || !cfg.testDir) throw new Error('--val and --test must be given together');
    const val = readImageFolder(cfg.valDir, data.classes);
    const test = readImageFolder(cfg.testDir, data.classes);
    return { ...base, ratios: [], remainder: 'train', groupBy: null, train: toEntries(data.items), val: val.items, test: test.items };
  }
  if (cfg.split.length !== 3) throw new Error(`--split needs three ratios (train,val,test), got ${cfg.split.join(',')}`);
  const options = { ratios: cfg.split, seed: cfg.seed };
  const grouped = cfg.groupBy === 'patient' ? groupSplit(data.items, options) : null;
  const parts = grouped ?? stratifiedSplit(data.items, options);
  for (const name of ['train', 'val', 'test'] as const)
    if (parts[name].length === 0) throw new Error(`the ${name} split of ${cfg.data} is empty: add images or change --split`);
  return {
    ...base,
    ratios: cfg.split,
    remainder: defaultRemainder(cfg.split),
    groupBy: cfg.groupBy ?? null,
    train: toEntries(parts.train),
    val: toEntries(parts.val),
    test: toEntries(parts.test),
    ...(grouped ? { achieved: grouped.achieved } : {}),
  };
}

async function decodeSplit(
  name: string,
  items: SplitEntry[],
  size: number,
  cfg: TrainConfig,
  progress: ProgressSink,
): Promise<ImageSet> {
  const t0 = Date.now();
  let first = -1; // images already in the cache: the ETA counts only those decoded now
  const set = await native().ImageSet.build(
    items.map((i) => i.file),
    size,
    {
      threads: cfg.threads > 0 ? cfg.threads : undefined,
      skipBad: cfg.skipBadImages,
      cacheDir: resolveCacheDir(cfg),
      onProgress: (done, total) => {
        const elapsed = (Date.now() - t0) / 1000;
        if (first < 0) first = done;
        progress.status(`decoding ${name}: ${done}/${total} images, ETA ${formatDuration(eta(elapsed, done - first, total - first))}`);
      },
    },
  );
  const { reused } = set.stats();
  progress.line(
    `decoded ${name}: ${items.length} images at ${size}px in ${((Date.now() - t0) / 1000).toFixed(1)}s` +
      (reused > 0 ? ` (${reused} from the cache)` : ''),
  );
  return set;
}

function labelsOf(items: SplitEntry[]): Int32Array {
  return Int32Array.from(items.map((i) => i.label));
}

/** probs as rows, for the metrics module. */
export function probRows(r: EvalResult): number[][] {
  const rows: number[][] = [];
  for (let i = 0; i < r.n; i++) rows.push(Array.from(r.probs.subarray(i * r.numClasses, (i + 1) * r.numClasses)));
  return rows;
}

async function createSession(cfg: TrainConfig, numClasses: number, lr: number): Promise<NativeSession> {
  const session = await native().Session.create({
    model: cfg.model,
    numClasses,
    weights: cfg.weights,
    device: cfg.device,
    seed: cfg.seed,
  });
  if (cfg.headOnly) session.setTrainableGroups([session.info().groups[0]]);
  session.setFrozenBatchNorm(cfg.frozenBn);
  session.configureOptimizer({ lr, stepSize: cfg.stepSize, gamma: cfg.gamma });
  return session;
}

async function runEpoch(
  session: NativeSession,
  train: ImageSet,
  trainLabels: Int32Array,
  epoch: number,
  cfg: TrainConfig,
  progress: ProgressSink,
) {
  const t0 = Date.now();
  return session.trainEpoch(train, trainLabels, {
    batchSize: cfg.batchSize,
    seed: mixSeed(cfg.seed, epoch),
    onProgress: (batch, batches, loss) => {
      const elapsed = (Date.now() - t0) / 1000;
      progress.status(
        `epoch ${epoch}/${cfg.epochs} batch ${batch}/${batches} loss ${loss.toFixed(4)} ETA ${formatDuration(eta(elapsed, batch, batches))}`,
      );
    },
  });
}

export async function trainRun(cfg: TrainConfig, progress: ProgressSink = consoleProgress()): Promise<RunResult> {
  const info = findModelInfo(cfg.model);
  const size = resolveInputSize(info, cfg.inputSize);
  const lr = cfg.lr ?? info.defaultLr;
  if (!(cfg.epochs >= 1)) throw new Error(`--epochs must be at least 1, got ${cfg.epochs}`);
  if (!(cfg.batchSize >= 1)) throw new Error(`--batch-size must be at least 1, got ${cfg.batchSize}`);
  const split = await buildSplit(cfg);
  native().setThreads(cfg.threads);

  const run = new RunFolder(cfg.out);
  run.writeJson('config.json', { ...cfg, lr, inputSize: size, classes: split.classes });
  writeSplitFile(run.path('split.json'), split);
  progress.line(
    `${cfg.model}: ${split.classes.length} classes (${split.classes.join(', ')}), ` +
      `train ${split.train.length} / val ${split.val.length} / test ${split.test.length}, input ${size}px, lr ${lr}` +
      (cfg.headOnly ? ', head only' : ''),
  );

  const sets = {
    train: await decodeSplit('train', split.train, size, cfg, progress),
    val: await decodeSplit('val', split.val, size, cfg, progress),
    test: await decodeSplit('test', split.test, size, cfg, progress),
  };
  const skipped = [
    ...(split.skipped ?? []).map((e) => ({ split: 'dataset', ...e })),
    ...Object.entries(sets).flatMap(([name, set]) => set.failures().map((f) => ({ split: name, file: f.file, reason: f.reason }))),
  ];
  if (skipped.length > 0) {
    run.writeJson('skipped-images.json', skipped);
    progress.line(`skipped ${skipped.length} unreadable image(s); listed in ${run.path('skipped-images.json')}`);
  }

  const session = await createSession(cfg, split.classes.length, lr);
  const labels = { train: labelsOf(split.train), val: labelsOf(split.val), test: labelsOf(split.test) };
  const stopper = new EarlyStopping(cfg.monitor, cfg.patience, cfg.minDelta);
  const bestPath = run.path('best.ckpt');
  let epochsRun = 0;
  let totalSeconds = 0;
  for (let epoch = 1; epoch <= cfg.epochs; epoch++) {
    const t = await runEpoch(session, sets.train, labels.train, epoch, cfg, progress);
    const v = await session.evaluate(sets.val, labels.val, { batchSize: cfg.batchSize });
    const valReport = classificationReport(Array.from(v.labels), probRows(v), split.classes);
    const improved = stopper.update(epoch, cfg.monitor === 'val_loss' ? v.loss : valReport.accuracy);
    if (improved) await session.saveCheckpoint(bestPath, JSON.stringify({ epoch, val_loss: v.loss, val_accuracy: valReport.accuracy }));
    const record: EpochRecord = {
      epoch,
      lr: t.lr,
      train_loss: t.loss,
      train_accuracy: t.accuracy,
      val_loss: v.loss,
      val_accuracy: valReport.accuracy,
      seconds: t.seconds + v.seconds,
      best: improved,
    };
    run.appendJsonLine('metrics.jsonl', record);
    epochsRun = epoch;
    totalSeconds += record.seconds;
    progress.line(
      `epoch ${String(epoch).padStart(3)}  train loss ${t.loss.toFixed(4)} acc ${t.accuracy.toFixed(4)}  ` +
        `val loss ${v.loss.toFixed(4)} acc ${valReport.accuracy.toFixed(4)}  ${record.seconds.toFixed(1)}s${improved ? '  *best' : ''}`,
    );
    if (stopper.shouldStop) {
      progress.line(`early stopping: no ${cfg.monitor} improvement for ${cfg.patience} epochs (best epoch ${stopper.bestEpoch})`);
      break;
    }
  }

  await session.loadCheckpoint(bestPath);
  const testEval = await session.evaluate(sets.test, labels.test, { batchSize: cfg.batchSize });
  const test = classificationReport(Array.from(testEval.labels), probRows(testEval), split.classes);
  const result: RunResult = {
    dir: run.dir,
    classes: split.classes,
    epochsRun,
    bestEpoch: stopper.bestEpoch,
    avgEpochSeconds: totalSeconds / Math.max(epochsRun, 1),
    test,
    testLoss: testEval.loss,
  };
  run.writeJson('final.json', { model: cfg.model, ...result });
  return result;
}
