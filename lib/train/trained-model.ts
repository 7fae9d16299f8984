// A trained model, loaded for use (cam, evaluate, predict): from a run folder (its
// config.json and weights.safetensors, else best.ckpt) or from a weights / checkpoint file
// with the model and classes given or read from a config.json beside it. Resolving (which
// file, model, classes, input size) reads only small files, so a command can check the
// data against the model's classes before the model is built.
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';

import { native } from '../../binding/index.js';
import type { NativeSession, Precision } from '../../binding/session.js';
import { stageRow, stageRows } from '../experiment/protocols.js';
import { runTemperature } from './temperature.js';

/** What a model is loaded from: `run`, or `checkpoint` (with `model` / `classes` where no config.json is beside it). */
export interface ModelSource {
  /** run folder (config.json + weights.safetensors or best.ckpt) */
  run?: string;
  /** a weights file (.safetensors, .pth) or checkpoint (.ckpt); model and classes from config.json beside it, or given */
  checkpoint?: string;
  model?: string;
  classes?: string[];
  inputSize?: number;
}

/** The fields of a run's config.json that loading a model reads. */
export interface RunConfig {
  model: string;
  classes: string[];
  inputSize: number;
  batchSize?: number;
  precision?: Precision;
  channelsLast?: boolean;
}

/** A model resolved but not yet built. */
export interface TrainedModelSpec {
  /** "resnet18 (run)", or the paper's marks for a study's run folders */
  label: string;
  model: string;
  classes: string[];
  inputSize: number;
  /** the weights or checkpoint file */
  file: string;
  /** config.json of the run (or beside the checkpoint), when there is one */
  config: RunConfig | null;
  /** the run's split.json (with `run`) */
  split?: string;
  /** the run's temperature (calibration.json beside config.json, `train --calibrate temperature`), applied by evaluate and predict; null when it has none */
  temperature: number | null;
}

export interface LoadedModel extends TrainedModelSpec {
  session: NativeSession;
}

export function readRunConfig(dir: string): RunConfig | null {
  const path = join(dir, 'config.json');
  if (!existsSync(path)) return null;
  const c = JSON.parse(readFileSync(path, 'utf8')) as Partial<RunConfig>;
  if (!c.model || !c.classes || !c.inputSize) throw new Error(`${path} lacks model, classes or inputSize: not a run folder's config`);
  return c as RunConfig;
}

/**
 * The one-line refusal of a model source that cannot be used as given, or null; checked
 * before any file is read. `checks` 'exclusive': only --run with --checkpoint (cam, whose
 * other model flags may go with --run); 'all' (evaluate, predict): also neither given, and
 * --run with --model/--classes.
 */
export function modelSourceProblem(o: Partial<ModelSource>, checks: 'all' | 'exclusive' = 'all'): string | null {
  if (o.run !== undefined && o.checkpoint !== undefined)
    return "--run and --checkpoint cannot go together: --run uses the run folder's weights, --checkpoint the file given";
  if (checks === 'exclusive') return null;
  if (o.run === undefined && o.checkpoint === undefined) return 'give --run DIR (a finished run) or --checkpoint FILE (with --model and --classes unless a config.json is beside it)';
  if (o.run !== undefined && (o.model !== undefined || o.classes !== undefined))
    return "--run and --model/--classes cannot go together: the run's config.json names its model and classes";
  return null;
}

/** Which file, model, classes, input size and temperature `o` names; reads config.json and calibration.json only. */
export function resolveTrainedModel(o: ModelSource): TrainedModelSpec {
  let file: string;
  let cfg: RunConfig | null;
  if (o.run) {
    const dir = resolve(o.run);
    cfg = readRunConfig(dir);
    if (!cfg) throw new Error(`${dir} is not a run folder (no config.json)`);
    file = [join(dir, 'weights.safetensors'), join(dir, 'best.ckpt')].find(existsSync) ?? '';
    if (!file) throw new Error(`${dir} has no weights.safetensors or best.ckpt: has the run finished?`);
  } else if (o.checkpoint) {
    file = resolve(o.checkpoint);
    if (!existsSync(file)) throw new Error(`checkpoint ${file} does not exist`);
    cfg = readRunConfig(dirname(file));
  } else throw new Error('give --run DIR or --checkpoint FILE');
  const model = o.model ?? cfg?.model;
  const classes = o.classes ?? cfg?.classes;
  if (!model || !classes) throw new Error(`${file}: no config.json beside it, so give --model and --classes`);
  const inputSize = o.inputSize ?? cfg?.inputSize ?? native().models().find((m) => m.name === model)?.inputSize ?? 224;
  const where = o.run ? resolve(o.run) : dirname(file);
  const temperature = cfg ? runTemperature(dirname(file)) : null;
  return { label: runLabel(model, basename(where)), model, classes, inputSize, file, config: cfg, ...(o.run ? { split: join(resolve(o.run), 'split.json') } : {}), temperature };
}

/**
 * Builds the model of `spec` on `device` with its weights. `asTrained`: with the run's
 * precision and channels_last (evaluate and predict: the numbers the run's own test gave).
 */
export async function openTrainedModel(spec: TrainedModelSpec, device: string, asTrained = false): Promise<LoadedModel> {
  const ckpt = extname(spec.file) === '.ckpt';
  const settings = asTrained && spec.config ? { ...(spec.config.precision ? { precision: spec.config.precision } : {}), ...(spec.config.channelsLast ? { channelsLast: true } : {}) } : {};
  const session = await native().Session.create({ model: spec.model, numClasses: spec.classes.length, device, ...settings, ...(ckpt ? {} : { weights: spec.file }) });
  if (ckpt) await session.loadCheckpoint(spec.file);
  return { ...spec, session };
}

/** resolveTrainedModel, then openTrainedModel. */
export async function loadTrainedModel(o: ModelSource & { device: string }, asTrained = false): Promise<LoadedModel> {
  return openTrainedModel(resolveTrainedModel(o), o.device, asTrained);
}

/** "resnet18** (expt1)" for a study's run folders (the paper's marks), else "model (folder)". */
export function runLabel(model: string, folder: string): string {
  for (const s of stageRows()) {
    // stepped stages' run folders are <stage>-step-<k>; the others are named after their stage
    const step = s.stepped ? new RegExp(`^${s.stage}-step-(\\d+)$`).exec(folder) : null;
    if (step) return `${model}${s.suffix} step ${step[1]}${s.stepped!.tag}`;
  }
  return `${model}${stageRow(folder)?.suffix ?? ''} (${folder})`;
}
