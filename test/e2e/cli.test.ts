// The CLI end to end, as a user runs it: demo, train on a folder of JPEGs, and bad inputs
// that must exit non-zero with a message naming the cause and leave no half-written file.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { native } from '../../binding/index.js';
import { runProcess, type ProcessResult } from '../helpers/process.js';
import { ROOT } from '../helpers/python.js';
import { tempDir, vesselFolder } from '../helpers/images.js';
import { calibrationError } from '../../lib/stats/calibration.js';
import { readPredictions } from '../../lib/train/predictions.js';

const BIN = join(ROOT, 'bin', 'thtl-native.js');
const TINY = ['--epochs', '2', '--input-size', '32', '--batch-size', '8', '--device', 'cpu'];

function cli(args: string[]): Promise<ProcessResult> {
  return runProcess(process.execPath, [BIN, ...args]);
}

function noTempFiles(dir: string): void {
  if (!existsSync(dir)) return;
  expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
}

describe('thtl-native CLI', () => {
  it('every command has --help', async () => {
    for (const cmd of [[], ['train'], ['demo'], ['models'], ['doctor'], ['data'], ['data', 'inspect'], ['data', 'split'], ['synth'], ['experiment'], ['reproduce'], ['report'], ['weights'], ['weights', 'fetch'], ['weights', 'list'], ['cam']]) {
      const r = await cli([...cmd, '--help']);
      expect(r.code, cmd.join(' ')).toBe(0);
      expect(r.stdout).toMatch(/Usage: thtl-native/);
    }
  });

  it('doctor reports LibTorch, BLAS and threads', async () => {
    const r = await cli(['doctor']);
    expect(r.stdout).toMatch(/LibTorch\s+\d+\.\d+/);
    expect(r.stdout).toMatch(/BLAS/);
    expect(r.stdout).toMatch(/threads\s+\d+/);
    expect(r.stdout).toMatch(/fused BN\s+(on|off) \(/);
    expect(r.code).toBe(0);
  });

  it('models lists the 11 models with torchvision parameter counts', async () => {
    const r = await cli(['models']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(12);
    expect(r.stdout).toMatch(/maxvit_t\s+224\s+0\.0001\s+30,919,624/);
    expect(r.stdout).toMatch(/efficientnet_v2_s\s+384\s+0\.0001\s+21,458,488/);
    expect(r.stdout).toMatch(/resnet18\s+224\s+0\.001\s+11,689,512/);
    expect(r.stdout).toMatch(/resnet50\s+224\s+0\.001\s+25,557,032/);
  });

  it('demo at tiny settings runs the whole study and writes tables, ROC figures and LayerCAM figures; report rebuilds them', async () => {
    const out = tempDir('demo');
    const r = await cli([
      'demo', '--out', out, '--source', '24', '--intermediate', '20', '--target', '24', '--image-size', '40', '--input-size', '32',
      '--epochs', '1', '--patience', '1', '--threads', '1',
    ]);
    expect(r.code, r.stderr).toBe(0);
    for (const t of ['Table 3', 'Table 4', 'Table 5', 'Table 6']) expect(r.stdout, t).toContain(t);
    // the report (with its statistics) is written once, after the LayerCAM figures
    const log = r.stderr;
    expect(log.match(/^report: \d+ file\(s\) in /gm)).toHaveLength(1);
    expect(log.search(/^report: \d+ file\(s\) in /m)).toBeGreaterThan(log.indexOf('LayerCAM figures'));
    const report = join(out, 'study', 'report');
    const files = readdirSync(report).sort();
    for (const f of ['tables.md', 'tables.json', 'table3.csv', 'table4.csv', 'table5.csv', 'table6.csv']) expect(files, f).toContain(f);
    for (const ext of ['svg', 'png']) expect(files.filter((f) => f.startsWith('roc-') && f.endsWith(ext)).length, ext).toBeGreaterThanOrEqual(4);
    // 15 trainings: source, +, **, ^, *, ++, SWFT 2-6, LoRA 2-6
    const table6 = readFileSync(join(report, 'table6.csv'), 'utf8').trim().split('\n');
    expect(table6).toHaveLength(1 + 12);
    const cam = JSON.parse(readFileSync(join(out, 'study', 'cam', 'cam.json'), 'utf8')) as { images: { label: string; figure: string; models: unknown[] }[] };
    expect(cam.images.map((i) => i.label).sort()).toEqual(['benign', 'malignant']);
    for (const i of cam.images) {
      expect(i.models).toHaveLength(2);
      expect(existsSync(join(out, 'study', 'cam', i.figure))).toBe(true);
    }
    const before = files.map((f) => [f, readFileSync(join(report, f))] as const);
    const again = await cli(['report', join(out, 'study')]);
    expect(again.code, again.stderr).toBe(0);
    for (const [f, bytes] of before) expect(readFileSync(join(report, f)).equals(bytes), f).toBe(true);
  }, 600_000);

  it('train on a folder of JPEGs writes a complete run folder', async () => {
    const data = vesselFolder(15, 48);
    const out = join(tempDir('run'), 'run');
    const r = await cli(['train', '--model', 'resnet18', '--data', data, '--out', out, ...TINY]);
    expect(r.code, r.stderr).toBe(0);
    const split = JSON.parse(readFileSync(join(out, 'split.json'), 'utf8')) as { train: unknown[]; val: unknown[]; test: unknown[]; classes: string[] };
    expect(split.classes).toEqual(['benign', 'malignant']);
    expect(split.train.length + split.val.length + split.test.length).toBe(30);
    expect([split.val.length, split.test.length]).toEqual([6, 2]);
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { epoch: number });
    expect(lines.map((l) => l.epoch)).toEqual([1, 2]);
    const final = JSON.parse(readFileSync(join(out, 'final.json'), 'utf8')) as { test: { n: number; accuracy: number; confusion: number[][] }; epochsRun: number };
    expect(final.epochsRun).toBe(2);
    expect(final.test.n).toBe(2);
    expect(final.test.confusion.flat().reduce((a, b) => a + b, 0)).toBe(2);
    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { lr: number; inputSize: number };
    expect(cfg).toMatchObject({ lr: 0.001, inputSize: 32 });
    // the model card: the split, the test metrics of final.json, the calibration of predictions.csv
    const card = readFileSync(join(out, 'model-card.md'), 'utf8');
    expect(card).toMatch(/^# Model card: resnet18 \(benign \/ malignant\)\n/);
    expect(card).toContain('| train | 22 | n/a | 11 | 11 |\n| val | 6 | n/a | 3 | 3 |\n| test | 2 | n/a | 1 | 1 |');
    expect(card).toContain(`| accuracy | ${final.test.accuracy.toFixed(4)} [`);
    const test = readPredictions(join(out, 'predictions.csv'), split.classes).filter((p) => p.split === 'test');
    const ece = calibrationError(test.map((p) => p.probs), test.map((p) => p.label), { norm: 'l1' });
    expect(card).toContain(`expected calibration error (15 equal-width bins of the top-label confidence): ${ece.toFixed(4)}`);
    expect(card).toMatch(/## Intended use \(\*to fill\*\)[\s\S]*## Limitations \(\*to fill\*\)[\s\S]*- LibTorch \d+\.\d+/);
    noTempFiles(out);
  });

  it('--split-file reuses a saved split exactly', async () => {
    const data = vesselFolder(15, 48);
    const dir = tempDir('splitfile');
    const r1 = await cli(['data', 'split', data, '--ratios', '0.6,0.2,0.2', '--seed', '5', '--out', join(dir, 'split.json')]);
    expect(r1.code, r1.stderr).toBe(0);
    const out = join(dir, 'run');
    const r2 = await cli(['train', '--model', 'resnet18', '--split-file', join(dir, 'split.json'), '--out', out, ...TINY, '--epochs', '1']);
    expect(r2.code, r2.stderr).toBe(0);
    const saved = JSON.parse(readFileSync(join(dir, 'split.json'), 'utf8')) as Record<string, unknown>;
    const used = JSON.parse(readFileSync(join(out, 'split.json'), 'utf8')) as Record<string, unknown>;
    for (const k of ['train', 'val', 'test', 'classes']) expect(used[k]).toEqual(saved[k]);
  });

  it('--precision bf16 --channels-last train end to end and are recorded in the run config; fp16 on the CPU is refused', async () => {
    const data = vesselFolder(15, 40);
    const dir = tempDir('precision');
    const r = await cli(['train', '--model', 'resnet18', '--data', data, '--out', join(dir, 'run'), ...TINY, '--epochs', '1', '--precision', 'bf16', '--channels-last']);
    expect(r.code, r.stderr).toBe(0);
    const cfg = JSON.parse(readFileSync(join(dir, 'run', 'config.json'), 'utf8')) as Record<string, unknown> & { identity: Record<string, unknown> };
    expect(cfg.precision).toBe('bf16');
    expect(cfg.channelsLast).toBe(true);
    expect(cfg.identity).toMatchObject({ precision: 'bf16', channelsLast: true });
    const final = JSON.parse(readFileSync(join(dir, 'run', 'final.json'), 'utf8')) as { test: { accuracy: number } };
    expect(Number.isFinite(final.test.accuracy)).toBe(true);
    const bad = await cli(['train', '--model', 'resnet18', '--data', data, '--out', join(dir, 'fp16'), ...TINY, '--precision', 'fp16']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/fp16 needs a CUDA device/);
    const unknown = await cli(['train', '--model', 'resnet18', '--data', data, '--out', join(dir, 'x'), ...TINY, '--precision', 'fp64']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^thtl-native: --precision must be one of fp32, bf16, fp16, auto, got 'fp64'\n/);
  });

  it('--input-size is refused where the architecture fixes it (ViT position embeddings)', async () => {
    const data = vesselFolder(4, 40);
    const r = await cli(['train', '--model', 'vit_b_16', '--data', data, '--out', join(tempDir('vit'), 'run'), ...TINY]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/vit_b_16 only takes 224x224 input/);
  });

  it('--device cuda where no GPU is visible fails in one line before anything is written; auto says it took the CPU', async () => {
    if (native().info().cudaAvailable) return; // a GPU machine: the GPU check covers it
    const data = vesselFolder(15, 40);
    const dir = tempDir('device');
    const r = await cli(['train', '--model', 'resnet18', '--data', data, '--out', join(dir, 'cuda'), ...TINY, '--device', 'cuda']);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^thtl-native: device 'cuda' requested but CUDA is not available .*use --device cpu$/m);
    expect(existsSync(join(dir, 'cuda'))).toBe(false);
    const bad = await cli(['train', '--model', 'resnet18', '--data', data, '--out', join(dir, 'bad'), ...TINY, '--device', 'gpu0']);
    expect(bad.stderr).toMatch(/bad device 'gpu0' \(expected cpu, cuda, cuda:N or auto\)/);
    expect(existsSync(join(dir, 'bad'))).toBe(false);
    const auto = await cli(['train', '--model', 'resnet18', '--data', data, '--out', join(dir, 'auto'), ...TINY, '--epochs', '1', '--device', 'auto']);
    expect(auto.code, auto.stderr).toBe(0);
    expect(auto.stdout + auto.stderr).toMatch(/on cpu \(--device auto: no GPU visible\)/);
  });

  it('the same folder as --val and --test exits non-zero before training', async () => {
    const data = vesselFolder(4, 40);
    const heldOut = vesselFolder(3, 40, 11);
    const out = join(tempDir('leak'), 'run');
    const r = await cli(['train', '--model', 'resnet18', '--data', data, '--val', heldOut, '--test', heldOut, '--out', out, ...TINY]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/the validation and test folders are the same \(.*\); a test set must not share images with training or validation/);
    expect(r.stdout).not.toMatch(/epoch/);
  });

  it('a missing data folder exits non-zero naming it', async () => {
    const out = join(tempDir('bad'), 'run');
    const r = await cli(['train', '--model', 'resnet18', '--data', '/no/such/folder', '--out', out, ...TINY]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/\/no\/such\/folder does not exist/);
  });

  it('an unknown model exits non-zero naming it and listing known models', async () => {
    const data = vesselFolder(4, 40);
    const r = await cli(['train', '--model', 'resnet1000', '--data', data, '--out', join(tempDir('bad'), 'run'), ...TINY]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/unknown model 'resnet1000'.*resnet18/);
  });

  it('a corrupt JPEG fails naming the file; --skip-bad-images skips and lists it', async () => {
    const data = vesselFolder(15, 48);
    const bad = join(data, 'malignant', 'zz_corrupt.jpg');
    const good = readFileSync(join(data, 'malignant', 'malignant_0000.jpg'));
    writeFileSync(bad, good.subarray(0, Math.floor(good.length / 3)));
    const out1 = join(tempDir('bad'), 'run');
    const r1 = await cli(['train', '--model', 'resnet18', '--data', data, '--out', out1, ...TINY]);
    expect(r1.code).not.toBe(0);
    expect(r1.stderr).toContain('zz_corrupt.jpg');
    expect(existsSync(join(out1, 'final.json'))).toBe(false);
    noTempFiles(out1);

    const out2 = join(tempDir('skip'), 'run');
    const r2 = await cli(['train', '--model', 'resnet18', '--data', data, '--out', out2, '--skip-bad-images', ...TINY]);
    expect(r2.code, r2.stderr).toBe(0);
    const skipped = JSON.parse(readFileSync(join(out2, 'skipped-images.json'), 'utf8')) as Array<{ file: string; reason: string }>;
    expect(skipped.map((s) => s.file)).toEqual([bad]);
    expect(existsSync(join(out2, 'final.json'))).toBe(true);
  });

  it('a weight file with wrong shapes is refused in one line naming the tensor, before the run folder is made', async () => {
    const dir = tempDir('w');
    const s = await native().Session.create({ model: 'resnet18', numClasses: 2, device: 'cpu' });
    const good = join(dir, 'good.safetensors');
    await s.saveWeights(good);
    const entries = (await native().readWeights(good)).map((e) =>
      e.name === 'layer1.0.conv1.weight' ? { name: e.name, shape: [64, 64, 1, 1], data: new Float32Array(64 * 64) } : { name: e.name, shape: e.shape, data: e.data },
    );
    const bad = join(dir, 'bad.safetensors');
    await native().writeSafetensors(bad, entries);
    const data = vesselFolder(15, 48);
    const out = join(dir, 'run');
    const r = await cli(['train', '--model', 'resnet18', '--data', data, '--weights', bad, '--out', out, ...TINY]);
    expect(r.code).toBe(1);
    // one line naming the file, the tensor and its two shapes; nothing written
    expect(r.stderr).toMatch(/^thtl-native: \S*bad\.safetensors does not fit resnet18: tensors 1 of another shape \(e\.g\. layer1\.0\.conv1\.weight: file \[64, 64, 1, 1\], model \[64, 64, 3, 3\]\); nothing was loaded\n$/);
    expect(existsSync(out)).toBe(false);
  });

  it('a loss that becomes NaN exits non-zero saying so, keeping what was written', async () => {
    const data = vesselFolder(15, 48);
    const out = join(tempDir('nan'), 'run');
    const r = await cli(['train', '--model', 'resnet18', '--data', data, '--out', out, '--lr', '1e30', ...TINY, '--epochs', '4']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/loss became (NaN|infinite)/);
    expect(existsSync(join(out, 'config.json'))).toBe(true);
    expect(existsSync(join(out, 'final.json'))).toBe(false);
    noTempFiles(out);
  });
});
