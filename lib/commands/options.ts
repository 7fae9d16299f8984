// Option value parsers (commander calls them with the raw text) and the training flags,
// each declared once with its parser, its check and its default.
// `train` and `demo` show the default (commander fills it in); `experiment` and
// `reproduce` leave an absent flag undefined, so that a study config file's value stands,
// and name the default in the help text instead. A bad value fails while the command
// line is parsed, before any file is read.
import { InvalidArgumentError, Option, type Command } from 'commander';

import { DEFAULT_TRAIN_CONFIG, PRECISIONS } from '../train/config.js';

const d = DEFAULT_TRAIN_CONFIG;

function parseNumber(name: string, value: string, ok: (n: number) => boolean, what: string): number {
  const n = value.trim() === '' ? NaN : Number(value);
  if (!Number.isFinite(n) || !ok(n)) throw new InvalidArgumentError(`${name} must be ${what}, got '${value}'`);
  return n;
}

/** An integer in [min, max]. */
export const integer = (name: string, min: number, max = Number.MAX_SAFE_INTEGER) => (v: string) =>
  parseNumber(name, v, (n) => Number.isInteger(n) && n >= min && n <= max, `an integer in [${min}, ${max}]`);
export const positiveInt = (name: string) => (v: string) => parseNumber(name, v, (n) => Number.isInteger(n) && n >= 1, 'a positive integer');
export const nonNegativeInt = (name: string) => (v: string) => parseNumber(name, v, (n) => Number.isInteger(n) && n >= 0, 'a non-negative integer');
/** A comma-separated list; blanks dropped. */
export const list = (value: string): string[] => value.split(',').map((s) => s.trim()).filter(Boolean);
export const positiveNumber = (name: string) => (v: string) => parseNumber(name, v, (n) => n > 0, 'a positive number');
export const nonNegativeNumber = (name: string) => (v: string) => parseNumber(name, v, (n) => n >= 0, 'a non-negative number');
/** A comma-separated list of positive integers. */
export const positiveIntList = (name: string) => (v: string) => v.split(',').map((part) => positiveInt(name)(part));
/** 2 (train,val) or 3 (train,val,test) positive ratios summing to 1 (`count` fixes how many). */
export const ratios = (name: string, count?: 2 | 3) => (v: string) => {
  const parts = v.split(',').map((s) => (s.trim() === '' ? NaN : Number(s)));
  const countOk = count ? parts.length === count : parts.length === 2 || parts.length === 3;
  const sum = parts.reduce((a, b) => a + b, 0);
  if (!countOk || parts.some((x) => !(x > 0) || !Number.isFinite(x)) || Math.abs(sum - 1) > 1e-6)
    throw new InvalidArgumentError(
      `${name} must be ${count === 2 ? 'two' : count === 3 ? 'three' : 'two (train,val) or three (train,val,test)'} positive ratios summing to 1, like ${count === 2 ? '0.7,0.3' : '0.7,0.2,0.1'}; got '${v}'`,
    );
  return parts;
};

interface FlagSpec {
  flags: string;
  help: string;
  parse?: (value: string) => unknown;
  choices?: readonly string[];
  /** the value when the flag is absent; none: absent means "not given" */
  default?: unknown;
  /** how the default reads in help where it is not filled in ("each model's") */
  defaultText?: string;
}

/** Every training flag that more than one command takes. */
export const TRAINING_FLAGS = {
  epochs: { flags: '--epochs <n>', help: 'maximum epochs', parse: positiveInt('--epochs'), default: d.epochs },
  batchSize: { flags: '--batch-size <n>', help: 'batch size', parse: positiveInt('--batch-size'), default: d.batchSize },
  lr: { flags: '--lr <x>', help: 'learning rate', parse: positiveNumber('--lr'), defaultText: "the model's, from the paper" },
  inputSize: { flags: '--input-size <px>', help: 'square input size', parse: positiveInt('--input-size'), defaultText: "the model's" },
  patience: { flags: '--patience <n>', help: 'early-stopping patience in epochs', parse: nonNegativeInt('--patience'), default: d.patience },
  minDelta: { flags: '--min-delta <x>', help: 'minimum improvement that resets patience', parse: nonNegativeNumber('--min-delta'), default: d.minDelta },
  monitor: { flags: '--monitor <metric>', help: 'early-stopping metric', choices: ['val_loss', 'val_accuracy'], default: d.monitor },
  frozenBn: {
    flags: '--frozen-bn <mode>',
    help: "BatchNorm of frozen groups: 'train' keeps updating running statistics (as PyTorch code does), 'eval' fixes them",
    choices: ['train', 'eval'],
    default: d.frozenBn,
  },
  precision: {
    flags: '--precision <p>',
    help: 'mixed precision of forward passes (autocast): fp32, bf16 (CPU, CUDA), fp16 (CUDA, with loss scaling)',
    choices: PRECISIONS,
    default: d.precision,
  },
  channelsLast: { flags: '--channels-last', help: 'channels_last memory format for weights and batches' },
  device: { flags: '--device <device>', help: 'cpu | cuda | cuda:N | auto', default: d.device },
  threads: { flags: '--threads <n>', help: 'LibTorch threads (0 = all cores)', parse: nonNegativeInt('--threads'), default: d.threads },
  seed: { flags: '--seed <n>', help: 'seed for split, initialisation, shuffling and augmentation', parse: nonNegativeInt('--seed'), default: d.seed },
  cacheDir: { flags: '--cache-dir <dir>', help: 'decode cache folder', defaultText: '$THTL_CACHE_DIR or ~/.cache/thtl-native' },
  skipBadImages: { flags: '--skip-bad-images', help: 'skip unreadable images (listed in skipped-images.json) instead of failing' },
} satisfies Record<string, FlagSpec>;

export type TrainingFlag = keyof typeof TRAINING_FLAGS;

/**
 * Adds `names` to `cmd`. defaults 'fill': an absent flag takes its default (overridable per
 * command through `overrides`); 'name': it stays undefined and the help names the default.
 */
export function addTrainingFlags(
  cmd: Command,
  names: readonly TrainingFlag[],
  defaults: 'fill' | 'name',
  overrides: Partial<Record<TrainingFlag, { default?: unknown; help?: string }>> = {},
): Command {
  for (const name of names) {
    const spec: FlagSpec = { ...TRAINING_FLAGS[name], ...overrides[name] };
    const isBoolean = !spec.flags.includes('<');
    const named = spec.default !== undefined && !isBoolean ? String(spec.default) : spec.defaultText;
    const help = spec.help + (named && (defaults === 'name' || spec.default === undefined) ? ` (default: ${named})` : '');
    const option = new Option(spec.flags, help);
    if (spec.choices) option.choices([...spec.choices]);
    if (spec.parse) option.argParser(spec.parse);
    if (defaults === 'fill') {
      if (isBoolean) option.default(false);
      else if (spec.default !== undefined) option.default(spec.default);
    }
    cmd.addOption(option);
  }
  return cmd;
}
