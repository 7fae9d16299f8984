// Synthetic domains written as real files (native encoder): layout, balance,
// byte-identical determinism, resume, and the `thtl-native synth` command.
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { native } from '../../binding/index.js';
import { registerSynthCommand } from '../../lib/commands/synth.js';
import { readImageFolder } from '../../lib/data/imagefolder.js';
import { renderFundusImage } from '../../lib/synth/fundus.js';
import { SOURCE_CLASSES } from '../../lib/synth/textures.js';
import { type SynthDatasetOptions, synthImageSeed, writeSynthDataset, writeVesselDataset } from '../../lib/synth/write.js';
import { tempDir } from '../helpers/images.js';
import { captureCommand } from '../helpers/capture.js';

/** Relative path -> bytes, for every file under `dir`. */
function snapshot(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const cls of readdirSync(dir).sort())
    for (const f of readdirSync(join(dir, cls)).sort()) out.set(`${cls}/${f}`, readFileSync(join(dir, cls, f)));
  return out;
}

function hwcToChw(hwc: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(hwc.length);
  for (let i = 0; i < size * size; i++) for (let c = 0; c < 3; c++) out[c * size * size + i] = hwc[i * 3 + c]!;
  return out;
}

afterEach(() => vi.restoreAllMocks());

describe('writeSynthDataset', () => {
  it('writes a balanced ImageFolder per domain, readable by the loader', () => {
    const cases: [SynthDatasetOptions['domain'], number, string[]][] = [
      ['target', 5, ['benign', 'malignant']],
      ['intermediate', 12, ['0', '1', '2', '3', '4']],
      ['source', 2 * SOURCE_CLASSES.length, [...SOURCE_CLASSES]],
    ];
    for (const [domain, n, classes] of cases) {
      const out = join(tempDir('synth'), domain);
      const r = writeSynthDataset({ domain, n, size: 32, seed: 3, out });
      expect(r.files).toBe(n);
      expect(r.written).toBe(n);
      expect(r.classes.map((c) => c.name)).toEqual(classes);
      expect(r.classes.reduce((a, c) => a + c.images, 0)).toBe(n);
      expect(Math.max(...r.classes.map((c) => c.images)) - Math.min(...r.classes.map((c) => c.images))).toBeLessThanOrEqual(1);
      expect(readdirSync(out).sort()).toEqual([...classes].sort());
      expect(readdirSync(join(out, classes[0]!))[0]).toBe(`${classes[0]}_0000.jpg`);
      const ds = readImageFolder(out);
      expect(ds.items).toHaveLength(n);
      expect(native().decodeResized(ds.items[0]!.file, 32)).toHaveLength(3 * 32 * 32);
    }
  });

  it('is byte-identical for the same options and differs for another seed', () => {
    const opts = { domain: 'intermediate' as const, n: 10, size: 48 };
    const [a, b, c] = [tempDir('synth-a'), tempDir('synth-b'), tempDir('synth-c')];
    writeSynthDataset({ ...opts, seed: 9, out: a });
    writeSynthDataset({ ...opts, seed: 9, out: b });
    writeSynthDataset({ ...opts, seed: 10, out: c });
    const [sa, sb, sc] = [snapshot(a), snapshot(b), snapshot(c)];
    expect([...sa.keys()]).toEqual([...sb.keys()]);
    for (const [k, bytes] of sa) expect(bytes.equals(sb.get(k)!)).toBe(true);
    expect([...sa].some(([k, bytes]) => !bytes.equals(sc.get(k)!))).toBe(true);
  });

  it('writes PNGs that decode to exactly the rendered pixels', () => {
    const out = tempDir('synth-png');
    writeSynthDataset({ domain: 'intermediate', n: 5, size: 40, seed: 4, out, format: 'png' });
    const file = join(out, '3', '3_0000.png');
    expect(native().decodeResized(file, 40)).toEqual(hwcToChw(renderFundusImage(3, 40, synthImageSeed(4, 3, 0)), 40));
  });

  it('keeps existing files, so an interrupted run resumes', () => {
    const out = tempDir('synth-resume');
    const opts = { domain: 'source' as const, n: 24, size: 32, seed: 5, out };
    writeSynthDataset(opts);
    const before = snapshot(out);
    const kept = join(out, 'rings', 'rings_0001.jpg');
    const mtime = statSync(kept).mtimeMs;
    rmSync(join(out, 'dots', 'dots_0000.jpg'));
    const r = writeSynthDataset(opts);
    expect(r.written).toBe(1);
    expect(r.classes.find((c) => c.name === 'dots')!.written).toBe(1);
    expect(statSync(kept).mtimeMs).toBe(mtime);
    const after = snapshot(out);
    for (const [k, bytes] of before) expect(bytes.equals(after.get(k)!)).toBe(true);
    // Growing n adds images without changing the ones already there.
    expect(writeSynthDataset({ ...opts, n: 36 }).written).toBe(12);
    for (const [k, bytes] of before) expect(bytes.equals(readFileSync(join(out, k)))).toBe(true);
  });

  it('rejects bad options before writing anything', () => {
    const out = join(tempDir('synth-bad'), 'x');
    expect(() => writeSynthDataset({ domain: 'intermediate', n: 4, size: 32, seed: 1, out })).toThrow(/n must be .*>= 5/);
    expect(() => writeSynthDataset({ domain: 'intermediate', n: 5, size: 8, seed: 1, out })).toThrow(/size/);
    expect(() => writeSynthDataset({ domain: 'target', n: 2, size: 32, seed: -1, out })).toThrow(/seed/);
    expect(() => writeSynthDataset({ domain: 'nope' as 'target', n: 2, size: 32, seed: 1, out })).toThrow(/domain/);
    expect(() => readdirSync(out)).toThrow();
  });

  it('writeVesselDataset is the target domain with perClass images per class', () => {
    const [a, b] = [tempDir('vessels-a'), tempDir('vessels-b')];
    expect(writeVesselDataset({ out: a, perClass: 3, size: 32, seed: 7 })).toEqual({ files: 6, classes: ['benign', 'malignant'] });
    writeSynthDataset({ domain: 'target', n: 6, size: 32, seed: 7, out: b });
    const [sa, sb] = [snapshot(a), snapshot(b)];
    expect([...sa.keys()]).toEqual(['benign/benign_0000.jpg', 'benign/benign_0001.jpg', 'benign/benign_0002.jpg', 'malignant/malignant_0000.jpg', 'malignant/malignant_0001.jpg', 'malignant/malignant_0002.jpg']);
    for (const [k, bytes] of sa) expect(bytes.equals(sb.get(k)!)).toBe(true);
  });
});

const cli = (args: string[]) => captureCommand(registerSynthCommand, args);

describe('thtl-native synth', () => {
  it('writes the files and prints the counts per class', async () => {
    const dir = join(tempDir('synth-cli'), 'fundus');
    const { out, error } = await cli(['synth', '--domain', 'intermediate', '--n', '11', '--size', '32', '--seed', '5', '--out', dir, '--quiet']);
    expect(error).toBeUndefined();
    expect(out).toMatch(/synth intermediate: 11 images of 32x32 \(jpg, seed 5\)/);
    expect(out).toMatch(/^ {2}0 +3 +3$/m);
    expect(out).toMatch(/^ {2}4 +2 +2$/m);
    expect(out).toMatch(/^ {2}total +11 +11$/m);
    expect(out).toMatch(/11 written, 0 already there; [\d.]+s/);
    expect(readImageFolder(dir).items).toHaveLength(11);
    const again = await cli(['synth', '--domain', 'intermediate', '--n', '11', '--size', '32', '--seed', '5', '--out', dir, '--quiet']);
    expect(again.out).toMatch(/0 written, 11 already there/);
  });

  it('has help listing the domains and their classes, and rejects bad values', async () => {
    const help = await cli(['synth', '--help']);
    expect(help.out).toMatch(/--domain <domain>/);
    expect(help.out).toMatch(/intermediate [^\n]*\n *classes: 0, 1, 2, 3, 4/);
    expect(help.out).toMatch(/source .*stripes/);
    const dir = tempDir('synth-cli-bad');
    expect((await cli(['synth', '--domain', 'retina', '--n', '4', '--out', dir])).error).toMatchObject({ code: 'commander.invalidArgument' });
    expect((await cli(['synth', '--domain', 'target', '--n', 'x', '--out', dir])).error).toMatchObject({ code: 'commander.invalidArgument' });
    expect((await cli(['synth', '--domain', 'target', '--n', '4'])).error).toMatchObject({ code: 'commander.missingMandatoryOptionValue' });
  });
});
