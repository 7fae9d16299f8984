// A training run's settings, declared once: TRAIN_OPTIONS holds every option with its
// type, default (the paper's recipe), command-line flag, help text and check. TrainConfig,
// DEFAULT_TRAIN_CONFIG, the study recipe (lib/experiment/study-config.ts), the flags of
// `train`, `experiment`, `reproduce` and `demo` (lib/commands/options.ts), the study config
// reader, a run's resume identity and what a resume may change are all read from it.
import { homedir } from 'node:os';
import { join } from 'node:path';

import type { Precision } from '../../binding/session.js';
import type { Monitor } from './early-stopping.js';

export type { Precision };
/** Mixed precision of the forward passes: none, bfloat16 autocast, float16 autocast with loss scaling (CUDA). */
export const PRECISIONS: readonly Precision[] = ['fp32', 'bf16', 'fp16'];
/**
 * What a run may ask for: one of PRECISIONS, or 'auto' (bf16 + channels_last for a
 * convolutional model where the hardware runs bfloat16 fast, else fp32), which a run
 * resolves once before any work (lib/train/precision.ts, resolvePrecision).
 */
export type PrecisionRequest = Precision | 'auto';
export const PRECISION_REQUESTS: readonly PrecisionRequest[] = [...PRECISIONS, 'auto'];

/** What is wrong with a value ('must be a positive integer'), or null when it is fine. */
export type Check = (value: unknown) => string | null;

/** One training option. T is the type of its value. */
export interface OptionSpec<T> {
  help: string;
  /** command-line flag ('--epochs <n>'); none: set by code only (a study sets it per unit) */
  flag?: string;
  /** the flag must be given (commander's requiredOption) */
  flagRequired?: true;
  /** the value when not given; it makes the TrainConfig field required (unless `optional`) */
  default?: T;
  /** how the default reads in help where there is no default value ("the model's") */
  defaultText?: string;
  /** a TrainConfig field that must be given although it has no default */
  required?: true;
  /** a field with a default that a TrainConfig may still leave out */
  optional?: true;
  /** the allowed values (commander checks them on the command line too) */
  choices?: readonly T[];
  /** the value of a flag's text; none: the text itself */
  fromText?: (text: string) => T;
  check?: Check;
  /** part of the run's identity (config.json): a resumed folder must match it. 'whenSet': only when not the default, so folders written before the option existed still resume */
  identity?: true | 'whenSet';
  /** may differ from the run's own setting when a run (or a study, for the recipe's) is resumed: where and how it runs, not what it computes */
  resumeFree?: true;
  /** the type carrier (never set) */
  readonly __type?: (value: T) => T;
}

/** Declares an option with value type T (`option<number>()({...})` keeps the literal shape of the entry). */
const option =
  <T>() =>
  <S extends OptionSpec<T>>(spec: S): S & OptionSpec<T> =>
    spec;

const number = (text: string): number => (text.trim() === '' ? NaN : Number(text));
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const integerAtLeast = (min: number, what: string) => ({
  fromText: number,
  check: (v: unknown) => (isNumber(v) && Number.isInteger(v) && v >= min ? null : `must be ${what}`),
});
const positiveInt = integerAtLeast(1, 'a positive integer');
const nonNegativeInt = integerAtLeast(0, 'a non-negative integer');
const positiveNumber = { fromText: number, check: (v: unknown) => (isNumber(v) && v > 0 ? null : 'must be a positive number') };
const nonNegativeNumber = { fromText: number, check: (v: unknown) => (isNumber(v) && v >= 0 ? null : 'must be a non-negative number') };
const text = { check: (v: unknown) => (typeof v === 'string' ? null : 'must be a string') };
const flag = { check: (v: unknown) => (typeof v === 'boolean' ? null : 'must be true or false') };
const oneOf = <T extends string>(choices: readonly T[]) => ({
  choices,
  check: (v: unknown) => (choices.includes(v as T) ? null : `must be one of ${choices.join(', ')}`),
});
const ratios = {
  fromText: (t: string) => t.split(',').map(number),
  check: (v: unknown) => {
    const ok = Array.isArray(v) && (v.length === 2 || v.length === 3) && v.every((x) => isNumber(x) && x > 0);
    return ok && Math.abs((v as number[]).reduce((a, b) => a + b, 0) - 1) <= 1e-6
      ? null
      : 'must be two (train,val) or three (train,val,test) positive ratios summing to 1, like 0.7,0.2,0.1';
  },
};
const strings = { check: (v: unknown) => (Array.isArray(v) && v.every((s) => typeof s === 'string') ? null : 'must be a list of names') };

/**
 * Every training option, in the order of config.json: those with a default first (as
 * DEFAULT_TRAIN_CONFIG), then the others. A run's identity keeps the `identity: true`
 * options in this order, then the 'whenSet' ones.
 */
export const TRAIN_OPTIONS = {
  split: option<number[]>()({ ...ratios, flag: '--split <ratios>', help: 'train,val[,test] ratios, stratified per class', default: [0.7, 0.2, 0.1] }),
  model: option<string>()({ ...text, flag: '--model <name>', flagRequired: true, required: true, identity: true, help: 'model name (see `thtl-native models`)' }),
  /** dataset: an ImageFolder, a manifest CSV, DR trainLabels.csv or a JSON spec (docs/DATASETS.md) */
  data: option<string>()({ ...text, flag: '--data <spec>', required: true, help: 'dataset: ImageFolder folder, manifest/DR CSV or JSON spec (docs/DATASETS.md)' }),
  /** reuse this split.json instead of splitting `data` */
  splitFile: option<string>()({ ...text, flag: '--split-file <file>', help: 'reuse a split.json (from a run or `thtl-native data split`) instead of splitting --data' }),
  /** keep every patient in one split */
  groupBy: option<'patient'>()({ ...oneOf(['patient'] as const), flag: '--group-by <key>', help: 'keep every patient in one split' }),
  valDir: option<string>()({ ...text, flag: '--val <dir>', help: 'validation ImageFolder (with --test: use --data whole for training)' }),
  testDir: option<string>()({ ...text, flag: '--test <dir>', help: 'test ImageFolder' }),
  weights: option<string>()({ ...text, flag: '--weights <file>', identity: true, help: 'initial weights (.pth as torchvision publishes, or .safetensors)' }),
  epochs: option<number>()({ ...positiveInt, flag: '--epochs <n>', help: 'maximum epochs', default: 70, identity: true }),
  batchSize: option<number>()({ ...positiveInt, flag: '--batch-size <n>', help: 'batch size', default: 32, identity: true }),
  /** default: the model's learning rate in the registry */
  lr: option<number>()({ ...positiveNumber, flag: '--lr <x>', help: 'learning rate', defaultText: "the model's, from the paper", identity: true }),
  /** default: the model's input size in the registry */
  inputSize: option<number>()({ ...integerAtLeast(32, 'an integer >= 32'), flag: '--input-size <px>', help: 'square input size', defaultText: "the model's", identity: true }),
  headOnly: option<boolean>()({ ...flag, flag: '--head-only', help: 'train only the replaced classification head', default: false, identity: true }),
  /** train only these groups (SWFT step k = the first k groups); overrides headOnly */
  trainableGroups: option<string[]>()({ ...strings, help: 'train only these groups (SWFT step k = the first k groups); overrides headOnly', identity: true }),
  /** LoRA adapters on the convolutions/linears of these groups; the head group trains fully, other weights are frozen */
  lora: option<{ groups: string[]; rank: number; alpha: number }>()({ help: 'LoRA adapters on the convolutions/linears of these groups', identity: true }),
  frozenBn: option<'train' | 'eval'>()({
    ...oneOf(['train', 'eval'] as const),
    flag: '--frozen-bn <mode>',
    help: "BatchNorm of frozen groups: 'train' keeps updating running statistics (as PyTorch code does), 'eval' fixes them",
    default: 'train',
    identity: true,
  }),
  device: option<string>()({ ...text, flag: '--device <device>', help: 'cpu | cuda | cuda:N | auto', default: 'auto', resumeFree: true }),
  /** 'auto' is resolved once per run (resolvePrecision); config.json keeps what was used, and precisionRequested: 'auto' */
  precision: option<PrecisionRequest>()({
    ...oneOf(PRECISION_REQUESTS),
    flag: '--precision <p>',
    help:
      'mixed precision of forward passes (autocast): fp32, bf16 (CPU, CUDA), fp16 (CUDA, with loss scaling), ' +
      'or auto: bf16 + channels_last for convolutional models where the CPU/GPU runs bfloat16 fast, else fp32 (for speed; fp32 reproduces the paper)',
    default: 'fp32',
    identity: 'whenSet',
  }),
  channelsLast: option<boolean>()({ ...flag, flag: '--channels-last', help: 'channels_last memory format for weights and batches everywhere (without it: the training steps of convolutional models on a CPU with oneDNN in channels_last, the rest in NCHW)', default: false, identity: 'whenSet' }),
  threads: option<number>()({ ...nonNegativeInt, flag: '--threads <n>', help: 'LibTorch threads (0 = all cores)', default: 0, resumeFree: true }),
  seed: option<number>()({ ...nonNegativeInt, flag: '--seed <n>', help: 'seed for split, initialisation, shuffling and augmentation', default: 123, identity: true }),
  patience: option<number>()({ ...positiveInt, flag: '--patience <n>', help: 'early-stopping patience in epochs', default: 10, identity: true }),
  minDelta: option<number>()({ ...nonNegativeNumber, flag: '--min-delta <x>', help: 'minimum improvement that resets patience', default: 0, identity: true }),
  monitor: option<Monitor>()({ ...oneOf(['val_loss', 'val_accuracy'] as const), flag: '--monitor <metric>', help: 'early-stopping metric', default: 'val_loss', identity: true }),
  stepSize: option<number>()({ ...positiveInt, help: 'epochs between learning-rate steps', default: 5, identity: true }),
  gamma: option<number>()({ ...positiveNumber, help: 'learning-rate factor at each step', default: 0.5, identity: true }),
  /** after training: fit a temperature on the validation set (calibration.json), applied by evaluate and predict */
  calibrate: option<'none' | 'temperature'>()({
    ...oneOf(['none', 'temperature'] as const),
    flag: '--calibrate <method>',
    help: "after training, 'temperature': fit one temperature on the validation set (calibration.json; evaluate and predict apply it)",
    defaultText: 'none',
  }),
  skipBadImages: option<boolean>()({ ...flag, flag: '--skip-bad-images', help: 'skip unreadable images (listed in skipped-images.json) instead of failing', default: false }),
  labelNormalize: option<boolean>()({
    ...flag,
    flag: '--label-normalize',
    help: 'merge labels that differ only in case, surrounding spaces or Unicode form',
    default: false,
    identity: 'whenSet',
  }),
  /** keep best.ckpt (model + optimiser) after the run; weights.safetensors is always written */
  keepCheckpoint: option<boolean>()({ ...flag, help: 'keep best.ckpt (model + optimiser) after the run', default: true, optional: true }),
  /** decode cache folder (default: defaultCacheDir()); shared by runs, models and epochs */
  cacheDir: option<string>()({ ...text, flag: '--cache-dir <dir>', help: 'decode cache folder', defaultText: '$THTL_CACHE_DIR or ~/.cache/thtl-native', resumeFree: true }),
  /** decode into memory for this run only, no disk cache */
  noCache: option<boolean>()({ ...flag, flag: '--no-cache', help: 'decode into memory for this run, without the disk cache', resumeFree: true }),
  out: option<string>()({ ...text, flag: '--out <dir>', flagRequired: true, required: true, help: 'run folder to write', resumeFree: true }),
  /** continue a run folder: a finished run is returned as it is, an interrupted one goes on from its last epoch */
  resume: option<boolean>()({ ...flag, flag: '--resume', help: 'continue the run folder: a finished run is kept, an interrupted one goes on from its last epoch', resumeFree: true }),
  /** start over in a folder that holds a run: the old run is moved aside (never deleted) */
  force: option<boolean>()({ ...flag, flag: '--force', help: 'start over in a run folder that holds a run: the old run is moved aside to <out>.replaced-<time>' }),
} as const;

type Options = typeof TRAIN_OPTIONS;
export type TrainOption = keyof Options;
/** An option's declaration without its value type. */
export type AnyOptionSpec = Omit<OptionSpec<unknown>, '__type'>;
export const specOf = (name: TrainOption): AnyOptionSpec => TRAIN_OPTIONS[name];
/** The value type of option K. */
export type OptionValue<K extends TrainOption> = Options[K] extends { readonly __type?: (value: infer T) => unknown } ? T : never;
type RequiredKey = { [K in TrainOption]: Options[K] extends { optional: true } ? never : Options[K] extends { required: true } | { default: unknown } ? K : never }[TrainOption];
type DefaultedKey = { [K in TrainOption]: Options[K] extends { default: unknown } ? K : never }[TrainOption];

type Fields = { -readonly [K in RequiredKey]: OptionValue<K> } & { -readonly [K in Exclude<TrainOption, RequiredKey>]?: OptionValue<K> };
/** A training run's settings: one field per TRAIN_OPTIONS entry (see there for each). */
export interface TrainConfig extends Fields {}

/** The defaults of those of `names` that have one, in the order of `names`. */
export function optionDefaults<K extends TrainOption>(names: readonly K[]): Pick<TrainConfig, K & DefaultedKey> {
  const out: Record<string, unknown> = {};
  for (const name of names) {
    const spec = specOf(name);
    if (spec.default !== undefined) out[name] = spec.default;
  }
  return out as Pick<TrainConfig, K & DefaultedKey>;
}

export const TRAIN_OPTION_NAMES = Object.keys(TRAIN_OPTIONS) as TrainOption[];

/** The `resumeFree` options, in TRAIN_OPTIONS' order: a resumed run takes them from the command line although its config.json has others. */
export const RESUME_FREE_OPTIONS: readonly TrainOption[] = TRAIN_OPTION_NAMES.filter((name) => specOf(name).resumeFree === true);

export const DEFAULT_TRAIN_CONFIG: Omit<TrainConfig, 'model' | 'data' | 'out'> = optionDefaults(TRAIN_OPTION_NAMES);

/** What is wrong with `value` as option `name` ('must be a positive integer'), or null. */
export function optionProblem(name: TrainOption, value: unknown): string | null {
  const check = specOf(name).check;
  return check ? check(value) : null;
}

/** How a value reads in an error message. */
export const shown = (value: unknown): string => (typeof value === 'string' ? `'${value}'` : JSON.stringify(value) ?? String(value));

/** Throws "<where><name> must be ..., got <value>" for the first given option whose value fails its check. */
export function checkOptions(values: Partial<Record<TrainOption, unknown>>, where = ''): void {
  for (const name of TRAIN_OPTION_NAMES) {
    const value = values[name];
    if (value === undefined) continue;
    const problem = optionProblem(name, value);
    if (problem) throw new Error(`${where}${name} ${problem}, got ${shown(value)}`);
  }
}

/** Throws when a setting is out of range ("epochs must be a positive integer, got 0"). */
export function checkTrainConfig(cfg: TrainConfig): void {
  checkOptions(cfg);
}

/**
 * The settings that make two runs the same run, as config.json keeps them: the `identity`
 * options (absent ones as null, lr and inputSize as resolved), then the 'whenSet' ones
 * that differ from their default.
 */
export function trainIdentity(cfg: TrainConfig, resolved: Pick<TrainConfig, 'lr' | 'inputSize'>): Record<string, unknown> {
  const value = (name: TrainOption): unknown => (name in resolved ? resolved[name as keyof typeof resolved] : cfg[name]);
  const out: Record<string, unknown> = {};
  for (const name of TRAIN_OPTION_NAMES) if (specOf(name).identity === true) out[name] = value(name) ?? null;
  for (const name of TRAIN_OPTION_NAMES) {
    const spec = specOf(name);
    const v = value(name);
    if (spec.identity === 'whenSet' && v !== undefined && v !== null && v !== spec.default) out[name] = v;
  }
  return out;
}

/** The decode cache folder when none is given: $THTL_CACHE_DIR, else ~/.cache/thtl-native. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.THTL_CACHE_DIR || join(homedir(), '.cache', 'thtl-native');
}

/** Where a run keeps its decode cache; undefined with noCache (decode into memory). */
export function resolveCacheDir(cfg: Pick<TrainConfig, 'cacheDir' | 'noCache'>): string | undefined {
  return cfg.noCache ? undefined : cfg.cacheDir || defaultCacheDir();
}
