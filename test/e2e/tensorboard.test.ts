// A run's TensorBoard events (tb/), read back by TensorBoard itself: the `tensorboard`
// package's EventAccumulator (test/fixtures/tb_read.py) in the venv of scripts/tb-venv.sh
// (THTL_TB_PYTHON, else ~/.cache/thtl-native/venv-tensorboard). Every scalar of every
// epoch equals metrics.jsonl's (as float32), the config text is config.json, a file cut
// in its last record still reads up to it, and a run killed and resumed has each step once.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, truncateSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { runChecked, runProcess } from '../helpers/process.js';
import { oracleSkip, ROOT } from '../helpers/python.js';
import { tempDir, vesselFolder } from '../helpers/images.js';

const BIN = join(ROOT, 'bin', 'thtl-native.js');
const TINY = ['--model', 'resnet18', '--epochs', '3', '--input-size', '32', '--batch-size', '4', '--threads', '1', '--device', 'cpu', '--patience', '10'];
const SCALARS = { 'loss/train': 'train_loss', 'loss/val': 'val_loss', 'accuracy/train': 'train_accuracy', 'accuracy/val': 'val_accuracy', lr: 'lr', seconds: 'seconds' } as const;

const TB_PYTHON = process.env.THTL_TB_PYTHON ?? join(homedir(), '.cache', 'thtl-native', 'venv-tensorboard', 'bin', 'python');

function tbMissing(): string {
  if (!existsSync(TB_PYTHON)) return `no tensorboard venv (${TB_PYTHON}): run scripts/tb-venv.sh`;
  const r = spawnSync(TB_PYTHON, ['-c', 'from tensorboard.backend.event_processing import event_accumulator'], { encoding: 'utf8' });
  return r.status === 0 ? '' : `${TB_PYTHON} cannot import tensorboard: run scripts/tb-venv.sh`;
}

interface TbRead {
  tags: { scalars: string[]; tensors: string[] };
  scalars: Record<string, [number, number][]>;
  text: Record<string, [number, string][]>;
  plugins: Record<string, string>;
  file_version: number;
}

async function tbRead(path: string): Promise<TbRead> {
  return JSON.parse(await runChecked(TB_PYTHON, [join(ROOT, 'test', 'fixtures', 'tb_read.py'), path])) as TbRead;
}

type Metrics = Record<(typeof SCALARS)[keyof typeof SCALARS] | 'epoch', number>;
const metrics = (run: string): Metrics[] =>
  readFileSync(join(run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Metrics);

/** Every scalar tag has exactly the epochs of metrics.jsonl, once each, with its values (float32). */
function expectScalarsMatch(tb: TbRead, run: string, epochs: number[]): void {
  const rows = metrics(run);
  expect(rows.map((r) => r.epoch)).toEqual(epochs);
  expect(tb.tags.scalars).toEqual(Object.keys(SCALARS).sort());
  for (const [tag, key] of Object.entries(SCALARS)) {
    const points = tb.scalars[tag]!;
    expect(points.map(([step]) => step), tag).toEqual(epochs);
    for (const [i, [, value]] of points.entries()) {
      const want = rows[i]![key];
      expect(Math.abs(value - want), `${tag} at epoch ${epochs[i]}: ${value} vs ${want}`).toBeLessThanOrEqual(Math.abs(want) * 2 ** -23 + 1e-30);
    }
  }
}

/** The config text: once, at step 0, config.json (as the run's first process wrote it) in a Markdown code block. */
function expectConfigText(tb: TbRead, configJson: string): void {
  expect(tb.tags.tensors).toEqual(['config']);
  expect(tb.plugins.config).toBe('text');
  expect(tb.text.config).toEqual([[0, '```json\n' + configJson.trimEnd() + '\n```']]);
}

const eventsFiles = (run: string) => readdirSync(join(run, 'tb')).filter((f) => f.startsWith('events.out.tfevents.')).sort();

/** Starts `train`, sends SIGTERM once the first epoch is reported; resolves with the exit. */
function terminatedAfterEpoch1(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let sent = false;
    const watch = (d: string) => {
      out += d;
      if (!sent && /epoch +1 /.test(out)) {
        sent = true;
        child.kill('SIGTERM');
      }
    };
    child.stdout.setEncoding('utf8').on('data', watch);
    child.stderr.setEncoding('utf8').on('data', watch);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr: out }));
  });
}

describe.skipIf(oracleSkip('TensorBoard files read back', tbMissing()))('TensorBoard events of a run', () => {
  const data = vesselFolder(12, 48);

  it('a finished run: every epoch\'s scalars as in metrics.jsonl, the config as text; a torn file reads up to its last whole record', async () => {
    const run = join(tempDir('tb-run'), 'run');
    const r = await runProcess(process.execPath, [BIN, 'train', '--data', data, '--out', run, ...TINY]);
    expect(r.code, r.stderr).toBe(0);
    const files = eventsFiles(run);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(new RegExp(`^events\\.out\\.tfevents\\.\\d{10}\\.[^/]+\\.\\d+\\.thtl$`));

    const tb = await tbRead(join(run, 'tb'));
    expect(tb.file_version).toBe(2);
    expectScalarsMatch(tb, run, [1, 2, 3]);
    expectConfigText(tb, readFileSync(join(run, 'config.json'), 'utf8'));

    // a kill in the middle of the last append: TensorBoard reads the records before it
    const torn = join(tempDir('tb-torn'), 'tb');
    mkdirSync(torn);
    copyFileSync(join(run, 'tb', files[0]!), join(torn, files[0]!));
    truncateSync(join(torn, files[0]!), statSync(join(torn, files[0]!)).size - 5);
    const cut = await tbRead(torn);
    for (const tag of Object.keys(SCALARS)) expect(cut.scalars[tag]!.map(([step]) => step), tag).toEqual([1, 2]);
    expect(cut.scalars['loss/val']).toEqual(tb.scalars['loss/val']!.slice(0, 2));
    expect(cut.text.config).toEqual(tb.text.config);
  });

  it('SIGTERM after epoch 1, then --resume: a second events file, each step once, the config once', async () => {
    const run = join(tempDir('tb-resume'), 'run');
    const args = ['train', '--data', data, '--out', run, ...TINY];
    const killed = await terminatedAfterEpoch1(args);
    expect(killed.code, killed.stderr).toBe(143);
    expect(eventsFiles(run)).toHaveLength(1);
    const configJson = readFileSync(join(run, 'config.json'), 'utf8');
    const resumed = await runProcess(process.execPath, [BIN, ...args, '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout + resumed.stderr).toMatch(/resuming .* after epoch [12] /);
    expect(eventsFiles(run)).toHaveLength(2);

    const tb = await tbRead(join(run, 'tb'));
    expectScalarsMatch(tb, run, [1, 2, 3]);
    expectConfigText(tb, configJson);
    // the first file ends at the epoch resumed after, the second starts after it
    const first = await tbRead(join(run, 'tb', eventsFiles(run)[0]!));
    const last = first.scalars.lr!.at(-1)![0];
    expect(last === 1 || last === 2, `first file ends at epoch ${last}`).toBe(true);
    expect((await tbRead(join(run, 'tb', eventsFiles(run)[1]!))).scalars.lr!.map(([step]) => step)).toEqual(last === 1 ? [2, 3] : [3]);
  });
});
