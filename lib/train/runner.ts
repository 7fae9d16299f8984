// One training run, start to finish: data -> split -> decode cache -> epochs with
// early stopping -> best weights restored -> test metrics -> run folder.
import { copyFileSync, existsSync, linkSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { native } from '../../binding/index.js';
import type { ImageSet } from '../../binding/data.js';
import type { EvalResult, NativeSession } from '../../binding/session.js';
import { findModelInfo, resolveInputSize } from '../models/index.js';
import { weightsMismatchError } from '../models/weights-fit.js';
import { classificationReport, type ClassificationReport } from '../stats/metrics.js';
import { consoleProgress, eta, formatDuration, type ProgressSink } from '../util/progress.js';
import { mixSeed } from '../util/rng.js';
import { setTorchThreads } from '../util/threads.js';
import { RunEvents } from '../util/tensorboard.js';
import { moveAside, RunFolder, runIn, writeFileAtomic } from '../util/runfolder.js';
import { modelCard, type ModelCardInput } from './model-card.js';
import { calibrateRun } from './temperature.js';
import { predictionRows, predictionsCsv, probRows } from './predictions.js';
import { acquireLock, removeStaleLock } from '../util/lock.js';
import { writeSplitFile, type SplitEntry, type SplitFile } from '../split/file.js';
import { buildSplit } from '../split/run.js';
import { checkTrainConfig, resolveCacheDir, shown, trainIdentity, type PrecisionRequest, type TrainConfig } from './config.js';
import { EarlyStopping } from './early-stopping.js';
import { resolvePrecision, type PrecisionChoice } from './precision.js';

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
  /** the dataset's labels are grades in class order (split.json's `ordinal`); present only when true */
  ordinal?: boolean;
  epochsRun: number;
  bestEpoch: number;
  avgEpochSeconds: number;
  /** validation metrics at the best epoch */
  valAccuracy: number;
  valLoss: number;
  trainableParams: number;
  totalParams: number;
  /** null when the split has no test part (an intermediate-domain run) */
  test: ClassificationReport | null;
  testLoss: number | null;
  /** true when a finished run folder was found and returned without training */
  reused?: boolean;
}

/** Decodes a split's images at `size` (the decode cache unless noCache), with progress; also what evaluate uses. */
export async function decodeSplit(
  name: string,
  items: SplitEntry[],
  size: number,
  cfg: Pick<TrainConfig, 'threads' | 'skipBadImages' | 'cacheDir' | 'noCache'>,
  progress: ProgressSink,
  signal: AbortSignal | undefined,
): Promise<ImageSet> {
  signal?.throwIfAborted();
  const t0 = Date.now();
  let first = -1; // images already in the cache: the ETA counts only those decoded now
  const set = await native().ImageSet.build(
    items.map((i) => i.file),
    size,
    {
      threads: cfg.threads > 0 ? cfg.threads : undefined,
      skipBad: cfg.skipBadImages,
      cacheDir: resolveCacheDir(cfg),
      signal,
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

/**
 * The device a run with this --device would train on ('cpu', 'cuda:0'); throws the one-line
 * reason (no CUDA in this build or no GPU visible, no such GPU, a malformed spec).
 */
export function resolveDevice(spec: string | undefined): string {
  try {
    return native().resolveDevice(spec ?? 'auto');
  } catch (err) {
    throw new Error((err instanceof Error ? err.message : String(err)).replace(/^resolveDevice: /, ''));
  }
}

/** The settings of the model, its trainable parts and its optimiser (the precision resolved). */
type SessionSettings = Pick<
  TrainConfig,
  'model' | 'weights' | 'device' | 'seed' | 'channelsLast' | 'trainableGroups' | 'headOnly' | 'lora' | 'frozenBn' | 'stepSize' | 'gamma'
> & { precision: PrecisionChoice['precision'] };

async function createSession(cfg: SessionSettings, numClasses: number, lr: number, progress: ProgressSink): Promise<NativeSession> {
  const create = native().Session.create({
    model: cfg.model,
    numClasses,
    weights: cfg.weights,
    device: cfg.device,
    seed: cfg.seed,
    precision: cfg.precision,
    // not asked for: the session's default (channels_last on a CPU with oneDNN for a convolutional model)
    ...(cfg.channelsLast ? { channelsLast: true } : {}),
  });
  const session = cfg.weights ? await create.catch(async (err: unknown) => Promise.reject(await weightsMismatchError(err, cfg.weights!, cfg.model))) : await create;
  const groups = session.info().groups;
  if (cfg.trainableGroups) {
    const unknown = cfg.trainableGroups.filter((g) => !groups.includes(g));
    if (unknown.length > 0) throw new Error(`${cfg.model} has no group ${unknown.map((g) => `'${g}'`).join(', ')} (groups, head first: ${groups.join(', ')})`);
    session.setTrainableGroups(cfg.trainableGroups.length === groups.length ? [] : cfg.trainableGroups);
  } else if (cfg.headOnly) session.setTrainableGroups([groups[0]!]);
  if (cfg.lora) {
    const r = await session.applyLora(cfg.lora);
    progress.line(
      `LoRA rank ${cfg.lora.rank} alpha ${cfg.lora.alpha} on ${r.adapted.length} layer(s) of ${cfg.lora.groups.join(', ')}: ` +
        `${r.loraParams.toLocaleString('en-US')} adapter parameters` +
        (r.skipped.length > 0 ? `; ${r.skipped.length} layer(s) left without adapters (${r.skipped[0]!.name}: ${r.skipped[0]!.reason}${r.skipped.length > 1 ? ', ...' : ''})` : ''),
    );
  }
  session.setFrozenBatchNorm(cfg.frozenBn);
  session.configureOptimizer({ lr, stepSize: cfg.stepSize, gamma: cfg.gamma });
  return session;
}

/** The settings that make two runs the same run: a resumed folder must match them (TRAIN_OPTIONS' identity). */
function identity(cfg: TrainConfig, lr: number, size: number): Record<string, unknown> {
  return trainIdentity(cfg, { lr, inputSize: size });
}

/** Points `to` at the same file as `from` (a hard link; a copy where links are not possible), atomically. */
export function linkAtomic(from: string, to: string): void {
  const tmp = `${to}.tmp-${process.pid}`;
  rmSync(tmp, { force: true });
  try {
    linkSync(from, tmp);
  } catch {
    copyFileSync(from, tmp);
  }
  renameSync(tmp, to);
  // When `to` already was a link to the same file (a resumed run redoing the link it made
  // before it was killed), rename(2) succeeds without doing anything and leaves `tmp`.
  rmSync(tmp, { force: true });
}

async function runEpoch(
  session: NativeSession,
  train: ImageSet,
  trainLabels: Int32Array,
  epoch: number,
  cfg: Pick<TrainConfig, 'batchSize' | 'seed' | 'epochs'>,
  progress: ProgressSink,
  signal: AbortSignal | undefined,
) {
  const t0 = Date.now();
  return session.trainEpoch(train, trainLabels, {
    batchSize: cfg.batchSize,
    seed: mixSeed(cfg.seed, epoch),
    signal,
    onProgress: (batch, batches, loss) => {
      const elapsed = (Date.now() - t0) / 1000;
      progress.status(
        `epoch ${epoch}/${cfg.epochs} batch ${batch}/${batches} loss ${loss.toFixed(4)} ETA ${formatDuration(eta(elapsed, batch, batches))}`,
      );
    },
  });
}

/** Options of a long call: `signal` aborts it (an AbortError; the run folder stays resumable). */
export interface RunOptions {
  signal?: AbortSignal;
}

/**
 * What precision auto chose for the run in `dir` when it started (its config.json says
 * precisionRequested 'auto'); undefined when it did not, or there is no readable config.
 */
function recordedAutoChoice(dir: string): { precision: PrecisionChoice['precision']; channelsLast: boolean } | undefined {
  try {
    const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Partial<TrainConfig> & { precisionRequested?: unknown };
    if (c.precisionRequested !== 'auto' || (c.precision !== 'fp32' && c.precision !== 'bf16' && c.precision !== 'fp16')) return undefined;
    return { precision: c.precision, channelsLast: c.channelsLast === true };
  } catch {
    return undefined; // none, or damaged: the identity check says so
  }
}

export async function trainRun(requested: TrainConfig, progress: ProgressSink = consoleProgress(), options: RunOptions = {}): Promise<RunResult> {
  const { signal } = options;
  signal?.throwIfAborted();
  const info = findModelInfo(requested.model);
  const size = resolveInputSize(info, requested.inputSize);
  const lr = requested.lr ?? info.defaultLr;
  checkTrainConfig(requested);
  if (requested.resume && requested.force) throw new Error('resume and force cannot go together: resume keeps the run in the folder, force replaces it');
  // before anything is decoded or written: `--device cuda` without a GPU is one line
  const device = resolveDevice(requested.device);

  const dir = resolve(requested.out);
  // --precision auto, resolved once: the run works and is identified by what it chose
  const chosen = resolvePrecision({
    precision: requested.precision,
    channelsLast: requested.channelsLast,
    model: requested.model,
    device,
    recorded: requested.precision === 'auto' && requested.resume ? recordedAutoChoice(dir) : undefined,
  });
  if (chosen.reason) progress.line(`precision auto: ${chosen.reason}`);
  const cfg = { ...requested, precision: chosen.precision, channelsLast: chosen.channelsLast };
  const id = identity(cfg, lr, size);
  if (cfg.resume) {
    // a finished run is reused without the lock and without writing (a read-only folder works)
    const finished = reuseFinished(dir, id, cfg.keepCheckpoint, progress);
    if (finished) return finished;
    checkSameRun(dir, id);
  } else refuseRunThere(dir, cfg.force);

  // Everything else that can fail is checked before the folder is touched: the split
  // (classes, leaks between its parts), the weights against the model.
  // The images are decoded before the folder is touched too: an unreadable one (without
  // skipBadImages) leaves no half-made run behind.
  const split = await buildSplit(cfg);
  setTorchThreads(cfg.threads);
  const session = await createSession(cfg, split.classes.length, lr, progress);
  try {
    progress.line(
      `${cfg.model}: ${split.classes.length} classes (${split.classes.join(', ')}), ` +
        `train ${split.train.length} / val ${split.val.length} / test ${split.test.length}, input ${size}px, lr ${lr}, ` +
        `on ${device}${!cfg.device || cfg.device === 'auto' ? ` (--device auto${device === 'cpu' ? ': no GPU visible' : ''})` : ''}, ` +
        `${cfg.precision}${session.info().trainChannelsLast ? ' + channels_last' : ''}` +
        (cfg.trainableGroups ? `, training ${cfg.trainableGroups.join(', ')}` : cfg.headOnly ? ', head only' : ''),
    );
    const sets = {
      train: await decodeSplit('train', split.train, size, cfg, progress, signal),
      val: await decodeSplit('val', split.val, size, cfg, progress, signal),
      test: split.test.length > 0 ? await decodeSplit('test', split.test, size, cfg, progress, signal) : null,
    };
    signal?.throwIfAborted();
    if (cfg.force && runIn(dir)) progress.line(`moved the run that was in ${dir} to ${moveAside(dir)}`);
    const run = new RunFolder(dir);
    // one process per run folder: a second `train` or `run-unit` into it is refused, naming the first
    const release = acquireLock(run.path('run.lock'), `run folder ${run.dir}`, `training ${cfg.model}`);
    try {
      return await trainInFolder(cfg, requested.precision, run, id, size, lr, split, sets, session, progress, signal);
    } finally {
      release();
    }
  } finally {
    await session.dispose(); // the model's memory goes now, not at the next garbage collection
  }
}

/** Refuses a folder that holds a run (finished or not), unless `force` (it is then moved aside, not deleted). */
function refuseRunThere(dir: string, force: boolean | undefined): void {
  const there = runIn(dir);
  if (there && !force)
    throw new Error(`${dir} holds ${there}; set resume to go on with it, or force to start over (the old run is moved to ${dir}.replaced-<time>)`);
}

/** A process killed in the middle of an atomic write leaves its temp file behind. */
function removeTempFiles(run: RunFolder): void {
  for (const f of readdirSync(run.dir)) if (/\.tmp-\d+$/.test(f)) rmSync(run.path(f), { force: true });
}

/** The options on which two identities differ: "epochs: the run has 8, this one 3". */
export function identityDifferences(before: Record<string, unknown>, now: Record<string, unknown>): { option: string; before: unknown; now: unknown }[] {
  const names = [...new Set([...Object.keys(before), ...Object.keys(now)])];
  return names.filter((k) => JSON.stringify(before[k] ?? null) !== JSON.stringify(now[k] ?? null)).map((option) => ({ option, before: before[option] ?? null, now: now[option] ?? null }));
}

/** Throws when the folder holds a run made with other settings, naming each that differs. */
function checkSameRun(dir: string, id: Record<string, unknown>): void {
  const path = join(dir, 'config.json');
  if (!existsSync(path)) return;
  const before = JSON.parse(readFileSync(path, 'utf8')) as { identity?: Record<string, unknown> };
  const diff = identityDifferences(before.identity ?? {}, id);
  if (diff.length > 0)
    throw new Error(
      `${dir} holds a run with other settings: ${diff.map((d) => `${d.option}: the run has ${shown(d.before)}, this one ${shown(d.now)}`).join('; ')}; ` +
        'write to another out folder, or set force to start over',
    );
}

/**
 * The results of the folder's finished run (final.json), when it is this run; else null.
 * What a process killed right after final.json may have left (temp files, the epoch
 * checkpoints, its lock) is removed where the folder can be written.
 */
function reuseFinished(dir: string, id: Record<string, unknown>, keepCheckpoint: boolean | undefined, progress: ProgressSink): RunResult | null {
  if (!existsSync(join(dir, 'final.json'))) return null;
  checkSameRun(dir, id);
  try {
    for (const f of readdirSync(dir)) if (/\.tmp-\d+$/.test(f)) rmSync(join(dir, f), { force: true });
    rmSync(join(dir, 'last.ckpt'), { force: true });
    if (keepCheckpoint === false) rmSync(join(dir, 'best.ckpt'), { force: true });
    removeStaleLock(join(dir, 'run.lock'));
  } catch {
    // a read-only folder: the finished run is reused as it is
  }
  const done = JSON.parse(readFileSync(join(dir, 'final.json'), 'utf8')) as RunResult;
  progress.line(`${dir}: finished before, reusing its results`);
  return { ...done, dir, reused: true };
}

async function trainInFolder(
  cfg: TrainConfig,
  precisionRequested: PrecisionRequest,
  run: RunFolder,
  id: Record<string, unknown>,
  size: number,
  lr: number,
  split: SplitFile,
  sets: DecodedSets,
  session: NativeSession,
  progress: ProgressSink,
  signal: AbortSignal | undefined,
): Promise<RunResult> {
  removeTempFiles(run);
  if (cfg.resume) {
    // another process may have finished it while this one waited for nothing but the lock
    const finished = reuseFinished(run.dir, id, cfg.keepCheckpoint, progress);
    if (finished) return finished;
    checkSameRun(run.dir, id);
  } else refuseRunThere(run.dir, false); // another process may have written a run here since the check
  // the precision and channels_last used; precisionRequested says when auto chose them
  const auto = precisionRequested === 'auto' ? { precisionRequested } : {};
  run.writeJson('config.json', { ...cfg, lr, inputSize: size, ...auto, classes: split.classes, identity: id });
  writeSplitFile(run.path('split.json'), split);
  const skipped = [
    ...(split.skipped ?? []).map((e) => ({ split: 'dataset', ...e })),
    ...Object.entries(sets).flatMap(([name, set]) => (set ? set.failures().map((f) => ({ split: name, file: f.file, reason: f.reason })) : [])),
  ];
  if (skipped.length > 0) {
    run.writeJson('skipped-images.json', skipped);
    progress.line(`skipped ${skipped.length} unreadable image(s); listed in ${run.path('skipped-images.json')}`);
  }
  return trainEpochs(cfg, session, run, split, sets, progress, signal);
}

/**
 * Loads the newest intact checkpoint of an interrupted run: last.ckpt, else best.ckpt;
 * null when there is none (a fresh start). Only a damaged file (ERR_THTL_CORRUPT_FILE:
 * a checksum that does not match, an archive that no longer reads) is passed over.
 */
async function resumeCheckpoint(session: NativeSession, lastPath: string, bestPath: string, progress: ProgressSink): Promise<{ epoch: number; from: string } | null> {
  for (const path of [lastPath, bestPath]) {
    if (!existsSync(path)) continue;
    try {
      const meta = JSON.parse(await session.loadCheckpoint(path)) as { epoch: number };
      return { epoch: meta.epoch, from: path };
    } catch (err) {
      if ((err as { code?: string }).code !== 'ERR_THTL_CORRUPT_FILE') throw err;
      const next = path === lastPath && existsSync(bestPath) ? 'falling back to best.ckpt' : 'starting the run over';
      progress.line(`${(err as Error).message}; ${next}`);
    }
  }
  return null;
}

type EpochSettings = Pick<TrainConfig, 'model' | 'epochs' | 'batchSize' | 'seed' | 'monitor' | 'patience' | 'minDelta' | 'resume' | 'keepCheckpoint' | 'calibrate'>;
type DecodedSets = { train: ImageSet; val: ImageSet; test: ImageSet | null };
type SplitLabels = { train: Int32Array; val: Int32Array; test: Int32Array };

/**
 * The epochs done before: an interrupted run resumes from its last epoch checkpoint
 * (model, optimiser, scheduler and RNG); metrics.jsonl is cut back to that epoch and
 * replayed into the early stopper. A damaged last.ckpt falls back to best.ckpt (an earlier
 * epoch), a damaged best.ckpt too to starting over; each step is said. A fresh start
 * removes what an earlier run left.
 */
async function restoreHistory(
  cfg: EpochSettings,
  session: NativeSession,
  run: RunFolder,
  stopper: EarlyStopping,
  monitored: (r: EpochRecord) => number,
  progress: ProgressSink,
): Promise<EpochRecord[]> {
  const bestPath = run.path('best.ckpt');
  const lastPath = run.path('last.ckpt');
  const resumed = cfg.resume ? await resumeCheckpoint(session, lastPath, bestPath, progress) : null;
  if (!resumed) {
    for (const f of ['metrics.jsonl', 'last.ckpt', 'best.ckpt', 'tb']) rmSync(run.path(f), { force: true, recursive: true });
    return [];
  }
  const history = run.readJsonLines<EpochRecord>('metrics.jsonl').filter((r) => r.epoch <= resumed.epoch);
  run.writeJsonLines('metrics.jsonl', history);
  for (const r of history) stopper.update(r.epoch, monitored(r));
  if (resumed.from === bestPath) linkAtomic(bestPath, lastPath);
  else if (stopper.bestEpoch === resumed.epoch) linkAtomic(lastPath, bestPath); // killed between the two writes
  progress.line(`resuming ${run.dir} after epoch ${resumed.epoch} (best epoch so far ${stopper.bestEpoch})`);
  return history;
}

/** An epoch's TensorBoard scalars (tb/, step = epoch). */
function epochScalars(r: EpochRecord): Record<string, number> {
  return { 'loss/train': r.train_loss, 'loss/val': r.val_loss, 'accuracy/train': r.train_accuracy, 'accuracy/val': r.val_accuracy, lr: r.lr, seconds: r.seconds };
}

/** One epoch: train, validate, record (metrics line, epoch checkpoint, best), report. */
async function trainOneEpoch(
  epoch: number,
  cfg: EpochSettings,
  session: NativeSession,
  run: RunFolder,
  classes: string[],
  sets: DecodedSets,
  labels: SplitLabels,
  stopper: EarlyStopping,
  progress: ProgressSink,
  signal: AbortSignal | undefined,
  events: RunEvents,
): Promise<EpochRecord> {
  const t = await runEpoch(session, sets.train, labels.train, epoch, cfg, progress, signal);
  const v = await session.evaluate(sets.val, labels.val, { batchSize: cfg.batchSize, signal });
  const valReport = classificationReport(Array.from(v.labels), probRows(v), classes);
  const improved = stopper.update(epoch, cfg.monitor === 'val_loss' ? v.loss : valReport.accuracy);
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
  // Order matters for resuming: the metrics line, then the epoch checkpoint, then best
  // (then the TensorBoard event: on a resume, tb/ is cut back to the epoch resumed after).
  run.appendJsonLine('metrics.jsonl', record);
  await session.saveCheckpoint(run.path('last.ckpt'), JSON.stringify({ epoch, val_loss: v.loss, val_accuracy: valReport.accuracy }));
  if (improved) linkAtomic(run.path('last.ckpt'), run.path('best.ckpt'));
  events.epoch(epoch, epochScalars(record));
  progress.line(
    `epoch ${String(epoch).padStart(3)}  train loss ${t.loss.toFixed(4)} acc ${t.accuracy.toFixed(4)}  ` +
      `val loss ${v.loss.toFixed(4)} acc ${valReport.accuracy.toFixed(4)}  ${record.seconds.toFixed(1)}s${improved ? '  *best' : ''}`,
  );
  progress.event?.({ event: 'epoch', model: cfg.model, epoch, train_loss: t.loss, val_loss: v.loss, val_accuracy: valReport.accuracy, seconds: record.seconds, best: improved });
  return record;
}

/** The best epoch's weights: every val and test image's probabilities (predictions.csv), test metrics, weights, final.json. */
async function finishRun(
  cfg: EpochSettings,
  session: NativeSession,
  run: RunFolder,
  split: SplitFile,
  sets: DecodedSets,
  labels: SplitLabels,
  history: EpochRecord[],
  bestEpoch: number,
): Promise<RunResult> {
  const bestPath = run.path('best.ckpt');
  await session.loadCheckpoint(bestPath);
  const best = history.find((r) => r.epoch === bestEpoch)!;
  let test: ClassificationReport | null = null;
  let testLoss: number | null = null;
  // every validation and test image's probabilities at the best epoch (predictions.csv)
  const valEval = await session.evaluate(sets.val, labels.val, { batchSize: cfg.batchSize });
  const predictions = [predictionRows('val', split.val, valEval, split.classes)];
  if (sets.test) {
    const testEval = await session.evaluate(sets.test, labels.test, { batchSize: cfg.batchSize });
    test = classificationReport(Array.from(testEval.labels), probRows(testEval), split.classes);
    testLoss = testEval.loss;
    predictions.push(predictionRows('test', split.test, testEval, split.classes));
  }
  writeFileAtomic(run.path('predictions.csv'), predictionsCsv(split.classes, predictions.flat()));
  const sessionInfo = session.info();
  await session.saveWeights(run.path('weights.safetensors'));
  // temperature scaling: fitted on the validation predictions, measured on the test ones
  const calibration = cfg.calibrate === 'temperature' ? calibrateRun(predictions[0]!, predictions[1] ?? []) : null;
  if (calibration) run.writeJson('calibration.json', calibration);
  // the model card beside the weights, before final.json marks the run finished
  const stored = JSON.parse(readFileSync(run.path('config.json'), 'utf8')) as ModelCardInput['cfg'] & { lr: number; inputSize: number };
  writeFileAtomic(
    run.path('model-card.md'),
    modelCard({
      cfg: stored,
      lr: stored.lr,
      inputSize: stored.inputSize,
      split,
      epochsRun: history.length,
      bestEpoch,
      trainableParams: sessionInfo.trainableParams,
      totalParams: sessionInfo.params,
      test,
      testPredictions: predictions.flat().filter((p) => p.split === 'test'),
      calibration,
    }),
  );
  const result: RunResult = {
    dir: run.dir,
    classes: split.classes,
    ...(split.ordinal ? { ordinal: true } : {}),
    epochsRun: history.length,
    bestEpoch,
    avgEpochSeconds: history.reduce((a, r) => a + r.seconds, 0) / Math.max(history.length, 1),
    valAccuracy: best.val_accuracy,
    valLoss: best.val_loss,
    trainableParams: sessionInfo.trainableParams,
    totalParams: sessionInfo.params,
    test,
    testLoss,
  };
  run.writeJson('final.json', { model: cfg.model, ...result });
  rmSync(run.path('last.ckpt'), { force: true });
  if (cfg.keepCheckpoint === false) rmSync(bestPath, { force: true });
  return result;
}

async function trainEpochs(
  cfg: EpochSettings,
  session: NativeSession,
  run: RunFolder,
  split: SplitFile,
  sets: DecodedSets,
  progress: ProgressSink,
  signal: AbortSignal | undefined,
): Promise<RunResult> {
  const labels = { train: labelsOf(split.train), val: labelsOf(split.val), test: labelsOf(split.test) };
  const stopper = new EarlyStopping(cfg.monitor, cfg.patience, cfg.minDelta);
  const monitored = (r: Pick<EpochRecord, 'val_loss' | 'val_accuracy'>): number => (cfg.monitor === 'val_loss' ? r.val_loss : r.val_accuracy);
  const history = await restoreHistory(cfg, session, run, stopper, monitored, progress);
  // TensorBoard: a new events file in tb/ (the config text and any earlier epoch not there yet)
  const events = new RunEvents(run.path('tb'), readFileSync(run.path('config.json'), 'utf8'), history.map((r) => ({ step: r.epoch, scalars: epochScalars(r) })));

  const first = history.length + 1;
  for (let epoch = first; epoch <= cfg.epochs && !stopper.shouldStop; epoch++) {
    history.push(await trainOneEpoch(epoch, cfg, session, run, split.classes, sets, labels, stopper, progress, signal, events));
    if (stopper.shouldStop)
      progress.line(`early stopping: no ${cfg.monitor} improvement for ${cfg.patience} epochs (best epoch ${stopper.bestEpoch})`);
  }
  return finishRun(cfg, session, run, split, sets, labels, history, stopper.bestEpoch);
}
