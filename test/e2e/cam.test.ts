// `thtl-native cam` end to end on a small trained run: figures, raw maps, summary, errors.
import { existsSync, readFileSync, readdirSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';

import { runProcess, type ProcessResult } from '../helpers/process.js';
import { ROOT } from '../helpers/python.js';
import { tempDir, vesselFolder } from '../helpers/images.js';

const BIN = join(ROOT, 'bin', 'thtl-native.js');
const cli = (args: string[]): Promise<ProcessResult> => runProcess(process.execPath, [BIN, ...args]);

let data = '';
let run = '';
let run2 = '';
beforeAll(async () => {
  data = vesselFolder(10, 48);
  run = join(tempDir('cam-run'), 'run');
  run2 = join(tempDir('cam-run'), 'run');
  for (const [out, seed] of [[run, '1'], [run2, '2']] as const) {
    const r = await cli(['train', '--model', 'resnet18', '--data', data, '--out', out, '--epochs', '1', '--input-size', '32', '--batch-size', '8', '--device', 'cpu', '--seed', seed]);
    if (r.code !== 0) throw new Error(r.stderr);
  }
}, 300_000);

/** The image files of the dataset, sorted. */
const dataFiles = (): string[] =>
  ['benign', 'malignant'].flatMap((c) => readdirSync(join(data, c)).sort().map((f) => join(data, c, f)));

/** Parses a little-endian float32 .npy: shape and data. */
function readNpy(path: string): { shape: number[]; data: Float32Array } {
  const buf = readFileSync(path);
  const headerLen = buf.readUInt16LE(8);
  const header = buf.subarray(10, 10 + headerLen).toString('latin1');
  const shape = /'shape': \(([^)]*)\)/.exec(header)![1]!.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const bytes = buf.subarray(10 + headerLen);
  return { shape, data: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)) };
}

describe('thtl-native cam', () => {
  it('writes a figure, raw maps and a summary per test image; --compare adds a row', async () => {
    const out = tempDir('cam-out');
    const r = await cli(['cam', '--run', run, '--compare', run2, '--limit', '2', '--layers', 'layer2,layer4', '--fusion', 'max', '--device', 'cpu', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(readFileSync(join(out, 'cam.json'), 'utf8')) as { images: { label: string; figure: string; models: { layers: string[]; maps: string; class: string; probability: number }[] }[] };
    expect(summary.images.map((i) => i.label)).toEqual(['benign', 'malignant']);
    for (const img of summary.images) {
      expect(img.models).toHaveLength(2);
      expect(img.models[0]!.layers).toEqual(['layer2', 'layer4']);
      expect(['benign', 'malignant']).toContain(img.models[0]!.class);
      const maps = readNpy(join(out, img.models[0]!.maps));
      expect(maps.shape).toEqual([2, 32, 32]);
      expect(Math.min(...maps.data)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...maps.data)).toBeLessThanOrEqual(1);
      expect(existsSync(join(out, img.models[1]!.maps))).toBe(true);
      const meta = await sharp(join(out, img.figure)).metadata();
      expect(meta.format).toBe('png');
      // two rows stacked: taller than wide would be false, but taller than one row
      expect(meta.height).toBeGreaterThan(2 * 160);
    }
  }, 120_000);

  it('a given class by name is explained for every image', async () => {
    const out = tempDir('cam-cls');
    const r = await cli(['cam', '--run', run, '--split', 'val', '--limit', '3', '--class', 'malignant', '--device', 'cpu', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(readFileSync(join(out, 'cam.json'), 'utf8')) as { images: { models: { class: string; layers: string[] }[] }[] };
    expect(summary.images).toHaveLength(3);
    for (const i of summary.images) {
      expect(i.models[0]!.class).toBe('malignant');
      expect(i.models[0]!.layers).toEqual(['layer1', 'layer2', 'layer3', 'layer4']);
    }
  }, 120_000);

  it('an unknown layer lists the valid ones; an unknown class names the classes', async () => {
    const a = await cli(['cam', '--run', run, '--layers', 'layer9', '--device', 'cpu', '--out', tempDir('cam-bad')]);
    expect(a.code).not.toBe(0);
    expect(a.stderr).toMatch(/layer9/);
    expect(a.stderr).toMatch(/layer1.*layer4/);
    const b = await cli(['cam', '--run', run, '--class', 'unicorn', '--device', 'cpu', '--out', tempDir('cam-bad')]);
    expect(b.code).not.toBe(0);
    expect(b.stderr).toMatch(/--class 'unicorn' is not 'pred', a class name \(benign, malignant\)/);
    const c = await cli(['cam', '--run', '/no/such/run', '--out', tempDir('cam-bad')]);
    expect(c.code).not.toBe(0);
    expect(c.stderr).toMatch(/\/no\/such\/run is not a run folder/);
  }, 120_000);

  it('explains every file given with --images (no limit applies)', async () => {
    const out = tempDir('cam-images');
    const images = [...dataFiles().slice(0, 3), ...dataFiles().slice(-3)];
    const r = await cli(['cam', '--run', run, '--images', ...images, '--layers', 'layer4', '--device', 'cpu', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(readFileSync(join(out, 'cam.json'), 'utf8')) as { images: { image: string; figure: string }[] };
    expect(summary.images.map((i) => i.image)).toEqual(images);
    expect(readdirSync(out).filter((f) => f.endsWith('.png'))).toHaveLength(6);
  }, 120_000);

  it('refuses flags that cannot go together before reading or writing anything', async () => {
    const image = dataFiles()[0]!;
    const cases: [string[], RegExp][] = [
      [['--run', run, '--images', image, '--split', 'val'], /--images and --split cannot go together: --images explains the files given, --split picks images of the run's split/],
      [['--run', run, '--images', image, '--limit', '2'], /--images and --limit cannot go together/],
      // neither path exists: the refusal comes before either is read
      [['--run', '/no/such/run', '--checkpoint', '/no/such/best.ckpt'], /--run and --checkpoint cannot go together/],
    ];
    for (const [args, message] of cases) {
      const out = join(tempDir('cam-refused'), 'out');
      const r = await cli(['cam', ...args, '--device', 'cpu', '--out', out]);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/not a run folder|does not exist/);
      expect(existsSync(out)).toBe(false);
    }
  }, 60_000);

  it("on a run trained with --skip-bad-images, leaves out the images it skipped and refuses them by name", async () => {
    const bad = dataFiles()[3]!;
    // a dataset with one JPEG cut in half (its header still reads)
    const skipData = vesselFolder(10, 48);
    const cut = join(skipData, 'malignant', readdirSync(join(skipData, 'malignant')).sort()[2]!);
    truncateSync(cut, Math.floor(statSync(cut).size / 2));
    const skipRun = join(tempDir('cam-skip-run'), 'run');
    const t = await cli(['train', '--model', 'resnet18', '--data', skipData, '--out', skipRun, '--epochs', '1', '--input-size', '32', '--batch-size', '8', '--device', 'cpu', '--skip-bad-images']);
    expect(t.code, t.stderr).toBe(0);
    const skipped = JSON.parse(readFileSync(join(skipRun, 'skipped-images.json'), 'utf8')) as { split: 'train' | 'val' | 'test'; file: string; reason: string }[];
    expect(skipped.map((s) => s.file)).toEqual([cut]);
    const split = JSON.parse(readFileSync(join(skipRun, 'split.json'), 'utf8')) as Record<string, { file: string }[]>;
    const entries = split[skipped[0]!.split]!;

    const out = tempDir('cam-skip');
    const r = await cli(['cam', '--run', skipRun, '--split', skipped[0]!.split, '--limit', '50', '--layers', 'layer4', '--device', 'cpu', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`left out 1 image\\(s\\) of the ${skipped[0]!.split} split that the run skipped`));
    const summary = JSON.parse(readFileSync(join(out, 'cam.json'), 'utf8')) as { images: { image: string }[] };
    expect(summary.images).toHaveLength(entries.length - 1);
    expect(summary.images.map((i) => i.image)).not.toContain(cut);

    const refusedOut = join(tempDir('cam-skip'), 'out');
    const e = await cli(['cam', '--run', skipRun, '--images', bad, cut, '--device', 'cpu', '--out', refusedOut]);
    expect(e.code).not.toBe(0);
    expect(e.stderr).toContain(`${cut} was skipped by run ${skipRun} (${skipped[0]!.reason})`);
    expect(existsSync(refusedOut)).toBe(false);
  }, 240_000);
});
