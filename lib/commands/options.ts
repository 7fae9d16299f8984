// Option value parsers (commander calls them with the raw text), and the flags of the
// training options: each built from its TRAIN_OPTIONS entry (lib/train/config.ts), with
// its parser, its check and its default, and read back typed by readTrainingFlags.
// `train` and `demo` show the default (commander fills it in); `experiment` and
// `reproduce` leave an absent flag undefined, so that a study config file's value stands,
// and name the default in the help text instead. A bad value fails while the command
// line is parsed, before any file is read.
import { InvalidArgumentError, Option, type Command, type OptionValues } from 'commander';

import { optionProblem, specOf, TRAIN_OPTION_NAMES, type OptionValue, type TrainOption } from '../train/config.js';

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
/** `--folds K`: an integer of at least 2. */
export function parseFolds(text: string): number {
  const n = text.trim() === '' ? NaN : Number(text);
  if (!Number.isInteger(n) || n < 2) throw new InvalidArgumentError(`--folds must be an integer of at least 2, got '${text}'`);
  return n;
}
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

/** A flag's text as option `name`'s value; a bad one fails the parse naming the flag ("--epochs must be a positive integer, got 'x'"). */
function flagParser(name: TrainOption, long: string): ((text: string) => unknown) | undefined {
  const spec = specOf(name);
  if (!spec.fromText) return undefined;
  const fromText = spec.fromText;
  return (text: string) => {
    const value = fromText(text);
    const problem = optionProblem(name, value);
    if (problem) throw new InvalidArgumentError(`${long} ${problem}, got '${text}'`);
    return value;
  };
}

/** Per-command changes to an option's flag: another default (the demo's), help text, or not mandatory (`train --resume` reads the model from the run). */
type FlagOverride = { default?: unknown; help?: string; required?: false };
export type FlagOverrides = Partial<Record<TrainOption, FlagOverride>>;

/** The long flag of training option `name` ('--val' for valDir). */
export function flagOf(name: TrainOption): string {
  const flag = specOf(name).flag;
  if (!flag) throw new Error(`training option ${name} has no command-line flag`);
  return new Option(flag).long ?? flag;
}

/** Commander's attribute name of training option `name`'s flag ('val' for valDir, 'cache' for noCache). */
export function attributeOf(name: TrainOption): string {
  return new Option(specOf(name).flag ?? '').attributeName();
}

/** The commander Option of training option `name` (its flag, help, parser, choices and default, from TRAIN_OPTIONS). */
export function trainingOption(name: TrainOption, defaults: 'fill' | 'name', override: FlagOverride = {}): Option {
  const spec = { ...specOf(name), ...override };
  if (!spec.flag) throw new Error(`training option ${name} has no command-line flag`);
  const isBoolean = !spec.flag.includes('<');
  const named = spec.default !== undefined && !isBoolean ? String(spec.default) : spec.defaultText;
  const help = spec.help + (named && (defaults === 'name' || spec.default === undefined) ? ` (default: ${named})` : '');
  const option = new Option(spec.flag, help);
  if (spec.choices) option.choices(spec.choices.map(String));
  const parse = flagParser(name, option.long ?? spec.flag);
  if (parse) option.argParser(parse);
  if (spec.flagRequired && override.required !== false) option.makeOptionMandatory();
  // a --no-X flag: commander makes X true unless it is given
  if (defaults === 'fill' && !option.negate) {
    if (isBoolean) option.default(false);
    else if (spec.default !== undefined) option.default(spec.default);
  }
  return option;
}

/**
 * Adds the flags of training options `names` to `cmd`. defaults 'fill': an absent flag
 * takes its default (overridable per command through `overrides`); 'name': it stays
 * undefined and the help names the default.
 */
export function addTrainingFlags(cmd: Command, names: readonly TrainOption[], defaults: 'fill' | 'name', overrides: FlagOverrides = {}): Command {
  for (const name of names) cmd.addOption(trainingOption(name, defaults, overrides[name]));
  return cmd;
}

/**
 * The values of training options `names` in commander's parsed options `o` (their flags
 * were added by addTrainingFlags): typed by TRAIN_OPTIONS, undefined where a flag is absent
 * and has no default. A --no-X flag reads as true when given.
 */
export function readTrainingFlags<K extends TrainOption>(o: OptionValues, names: readonly K[]): { [P in K]?: OptionValue<P> } {
  const out: Partial<Record<TrainOption, unknown>> = {};
  // in TRAIN_OPTIONS order, which is config.json's
  for (const name of TRAIN_OPTION_NAMES.filter((n) => names.includes(n as K))) {
    const option = new Option(specOf(name).flag ?? '');
    const raw: unknown = o[attributeOf(name)];
    out[name] = option.negate ? raw === false : raw;
  }
  return out as { [P in K]?: OptionValue<P> };
}
