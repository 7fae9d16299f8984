// A property of `train`'s command line, over random flag combinations drawn from the
// training option schema (TRAIN_OPTIONS): every combination either runs to a finished
// run, or fails with exit 2 and one line (and its hint) while the arguments are read,
// or fails with exit 1 and one line; a failure never leaves anything written: a new
// --out folder is not made, and a folder holding a finished run is byte-identical after.
// Seeded, so a failure names a combination that can be run again by hand.
import { cpSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

import { buildCli } from '../../lib/cli.js';
import { specOf, TRAIN_OPTION_NAMES, type TrainOption } from '../../lib/train/config.js';
import { snapshot } from '../helpers/folders.js';
import { runProcess, type ProcessResult } from '../helpers/process.js';
import { ROOT } from '../helpers/python.js';
import { tempDir, vesselFolder } from '../helpers/images.js';

const BIN = join(ROOT, 'bin', 'thtl-native.js');
const COMBINATIONS = Number(process.env.THTL_FLAG_COMBINATIONS ?? 40);

function cli(args: string[]): Promise<ProcessResult> {
  return runProcess(process.execPath, [BIN, ...args]);
}

/** mulberry32: a small seeded generator. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Fixture {
  data: string;
  val: string;
  test: string;
  splitFile: string;
  weights: string;
  finishedRun: string;
  cacheDir: string;
}

/**
 * Values to draw for option `name`: valid ones (small, so a run is seconds) and invalid
 * ones. Options the schema gives no flag are not drawn.
 */
function values(name: TrainOption, f: Fixture): { valid: string[]; invalid: string[] } {
  const table: Partial<Record<TrainOption, { valid: string[]; invalid: string[] }>> = {
    model: { valid: ['resnet18'], invalid: ['resnet1000', ''] },
    data: { valid: [f.data], invalid: [join(f.data, 'missing')] },
    splitFile: { valid: [f.splitFile], invalid: [join(f.data, 'none.json')] },
    split: { valid: ['0.6,0.2,0.2', '0.7,0.3'], invalid: ['0.5,0.6', 'x'] },
    valDir: { valid: [f.val], invalid: [join(f.val, 'missing')] },
    testDir: { valid: [f.test], invalid: [join(f.test, 'missing')] },
    weights: { valid: [f.weights], invalid: [join(f.data, 'none.safetensors')] },
    epochs: { valid: ['1'], invalid: ['0', '-1', 'x'] },
    batchSize: { valid: ['4', '8'], invalid: ['0', '2.5'] },
    lr: { valid: ['0.001', '0.0005'], invalid: ['0', 'x'] },
    inputSize: { valid: ['32', '40'], invalid: ['16', 'big'] },
    device: { valid: ['cpu', 'auto'], invalid: ['tpu'] },
    threads: { valid: ['1', '2'], invalid: ['-1'] },
    seed: { valid: ['0', '5'], invalid: ['-1', '1.5'] },
    patience: { valid: ['1', '3'], invalid: ['0'] },
    minDelta: { valid: ['0', '0.01'], invalid: ['-0.1'] },
    cacheDir: { valid: [f.cacheDir], invalid: [] },
  };
  const spec = specOf(name);
  if (table[name]) return table[name]!;
  if (spec.choices) return { valid: spec.choices.map(String), invalid: ['bogus'] };
  return { valid: [], invalid: [] };
}

/** The flags `train` takes, from its command: each training option with a flag, plus --quiet and --json. */
function trainFlags(): { name: TrainOption | 'quiet' | 'json'; long: string; boolean: boolean }[] {
  const train = buildCli().commands.find((c) => c.name() === 'train')!;
  const out: { name: TrainOption | 'quiet' | 'json'; long: string; boolean: boolean }[] = [];
  for (const option of train.options) {
    const long = option.long!;
    if (long === '--quiet' || long === '--json') {
      out.push({ name: long.slice(2) as 'quiet' | 'json', long, boolean: true });
      continue;
    }
    const name = TRAIN_OPTION_NAMES.find((n) => specOf(n).flag?.split(' ')[0] === long);
    if (name && name !== 'out') out.push({ name, long, boolean: !option.required && !option.optional });
  }
  return out;
}

/** One random command line: each flag present with probability 0.12 (model, data: 0.9), a value invalid with probability 0.15. */
function draw(rand: () => number, f: Fixture, out: string): string[] {
  const pick = <T,>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const args = ['train'];
  const has = new Set<string>();
  for (const flag of trainFlags()) {
    const p = flag.name === 'model' || flag.name === 'data' ? 0.9 : 0.12;
    if (rand() >= p) continue;
    has.add(flag.name);
    if (flag.boolean) {
      args.push(flag.long);
      continue;
    }
    const v = values(flag.name as TrainOption, f);
    const bad = v.invalid.length > 0 && (v.valid.length === 0 || rand() < 0.15);
    args.push(flag.long, bad ? pick(v.invalid) : pick(v.valid));
  }
  // runs stay small: one epoch at 32 px unless the draw chose otherwise
  if (!has.has('epochs')) args.push('--epochs', '1');
  if (!has.has('inputSize')) args.push('--input-size', '32');
  if (!has.has('threads')) args.push('--threads', '1');
  if (!has.has('batchSize')) args.push('--batch-size', '8');
  if (rand() < 0.95) args.push('--out', out);
  return args;
}

let fixture: Fixture;

beforeAll(async () => {
  const root = tempDir('combos');
  const data = vesselFolder(10, 40, 11);
  const finishedRun = join(root, 'finished');
  const r = await cli(['train', '--model', 'resnet18', '--data', data, '--out', finishedRun, '--epochs', '1', '--input-size', '32', '--batch-size', '8', '--threads', '1', '--no-cache']);
  expect(r.code, r.stderr).toBe(0);
  fixture = {
    data,
    val: vesselFolder(3, 40, 12),
    test: vesselFolder(3, 40, 13),
    splitFile: join(finishedRun, 'split.json'),
    weights: join(finishedRun, 'weights.safetensors'),
    finishedRun,
    cacheDir: join(root, 'cache'),
  };
}, 300_000);

describe('train: random flag combinations', () => {
  it(`${COMBINATIONS} combinations: each runs, or fails in one line without writing anything`, async () => {
    const rand = generator(20261205);
    const seen = { ran: 0, usage: 0, failed: 0 };
    const reasons = new Map<string, number>();
    for (let k = 0; k < COMBINATIONS; k++) {
      const parent = tempDir(`combo-${k}`);
      const out = join(parent, 'run');
      // a fifth of the draws write into a folder that holds a finished run
      const occupied = rand() < 0.2;
      if (occupied) cpSync(fixture.finishedRun, out, { recursive: true });
      const before = occupied ? snapshot(out) : null;
      const args = draw(rand, fixture, out);
      const r = await cli(args);
      const what = `combination ${k}: thtl-native ${args.join(' ')}\nexit ${r.code}\n${r.stderr}`;
      const untouched = (): void => {
        if (before) expect(snapshot(out), what).toEqual(before);
        else expect(existsSync(out), what).toBe(false);
      };
      if (r.code === 0) {
        seen.ran++;
        expect(existsSync(join(out, 'final.json')), what).toBe(true);
      } else if (r.code === 2) {
        seen.usage++;
        const why = r.stderr.replace(/^thtl-native: /, '').replace(/\/\S+/g, 'PATH').slice(0, 48);
        reasons.set(why, (reasons.get(why) ?? 0) + 1);
        const lines = r.stderr.split('\n');
        expect(lines, what).toHaveLength(3);
        expect(lines[0], what).toMatch(/^thtl-native: \S/);
        expect(lines[1], what).toBe('see thtl-native train --help');
        untouched();
      } else {
        seen.failed++;
        expect(r.code, what).toBe(1);
        // progress lines may come first (decoding); the error is the last line, and the only thtl-native: line
        const errors = r.stderr.split('\n').filter((l) => l.startsWith('thtl-native: '));
        expect(errors, what).toHaveLength(1);
        expect(r.stderr.trim().split('\n').at(-1), what).toBe(errors[0]);
        untouched();
      }
    }
    process.stdout.write(`flag combinations: ${seen.ran} ran, ${seen.usage} refused while parsing (exit 2), ${seen.failed} failed before writing (exit 1)\n`);
    for (const [why, n] of [...reasons].sort((a, b) => b[1] - a[1])) process.stdout.write(`  ${n} x ${why}\n`);
    // the draw reaches all three outcomes, so the property is exercised on each
    expect(seen.ran).toBeGreaterThan(0);
    expect(seen.usage).toBeGreaterThan(0);
    expect(seen.failed).toBeGreaterThan(0);
  }, 900_000);
});
