// Images shared between train/val/test are refused on every way a split is given (seeded
// split, val/test folders, split.json), by real path and by content; label variants
// (case, spaces, Unicode form) are refused or merged with labelNormalize; a class with
// fewer images than splits is refused. Real small PNGs, written without the addon.
import { copyFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { registerDataCommands } from '../../lib/commands/data.js';
import { loadDataset } from '../../lib/data/dataset.js';
import { buildSplit, checkNoLeaks, stratifiedSplit, type SplitFile, writeSplitFile } from '../../lib/split/index.js';
import { DEFAULT_TRAIN_CONFIG } from '../../lib/train/config.js';
import { tempDir } from '../helpers/images.js';
import { writePng } from '../helpers/png.js';
import { captureCommand } from '../helpers/capture.js';

let shade = 0;
/** An ImageFolder with `counts[class]` distinct PNGs per class (every file different bytes). */
function folder(counts: Record<string, number>, prefix = 'img'): string {
  const dir = tempDir('leaks');
  for (const [cls, n] of Object.entries(counts))
    for (let i = 0; i < n; i++) writePng(join(dir, cls, `${prefix}${i}.png`), 8 + (shade % 7), 6 + Math.floor(shade / 7) % 5, (shade++ * 37) % 256);
  return dir;
}

const settings = (data: string) => ({ ...DEFAULT_TRAIN_CONFIG, data });

afterEach(() => vi.restoreAllMocks());

describe('images shared between train, val and test', () => {
  it('refuses the same folder as validation and test', async () => {
    const data = folder({ benign: 3, malignant: 3 });
    const heldOut = folder({ benign: 2, malignant: 2 });
    await expect(buildSplit({ ...settings(data), valDir: heldOut, testDir: heldOut })).rejects.toThrow(
      /^the validation and test folders are the same \(.*\); a test set must not share images with training or validation$/,
    );
    // another spelling of the same folder too
    await expect(buildSplit({ ...settings(data), valDir: heldOut, testDir: join(heldOut, 'benign', '..') })).rejects.toThrow(/folders are the same/);
  });

  it('refuses a file copied under another name into val and test, with the count and an example', async () => {
    const data = folder({ benign: 3, malignant: 3 });
    const val = folder({ benign: 2, malignant: 2 }, 'v');
    const test = folder({ benign: 2, malignant: 2 }, 't');
    await expect(buildSplit({ ...settings(data), valDir: val, testDir: test })).resolves.toMatchObject({ classes: ['benign', 'malignant'] });
    copyFileSync(join(val, 'benign', 'v0.png'), join(test, 'benign', 'copy.png'));
    await expect(buildSplit({ ...settings(data), valDir: val, testDir: test })).rejects.toThrow(
      new RegExp(
        `^1 image is in both val and test \\(e\\.g\\. ${join(val, 'benign', 'v0.png')} = ${join(test, 'benign', 'copy.png')}, same content\\); ` +
          'a test set must not share images with training or validation$',
      ),
    );
    copyFileSync(join(val, 'malignant', 'v1.png'), join(test, 'malignant', 'copy2.png'));
    copyFileSync(join(data, 'malignant', 'img0.png'), join(test, 'malignant', 'copy3.png'));
    await expect(buildSplit({ ...settings(data), valDir: val, testDir: test })).rejects.toThrow(
      /^1 image is in both train and test \(e\.g\. .*img0\.png = .*copy3\.png, same content\); 2 images are in both val and test \(e\.g\. .*\); a test set must not/,
    );
  });

  it('refuses a split.json listing one file in train and test (two spellings) and a literal repeat', async () => {
    const data = folder({ benign: 4, malignant: 4 });
    const loaded = await loadDataset(data);
    const parts = stratifiedSplit(loaded.items, { ratios: [0.5, 0.25, 0.25] });
    const file = (s: Pick<SplitFile, 'train' | 'val' | 'test'>): string => {
      const path = join(tempDir('splitfile'), 'split.json');
      writeSplitFile(path, { version: 1, seed: 123, ratios: [0.5, 0.25, 0.25], remainder: 'train', groupBy: null, classes: loaded.classes, ...s });
      return path;
    };
    const clean = file(parts);
    await expect(buildSplit({ ...settings(data), splitFile: clean })).resolves.toMatchObject({ train: parts.train });
    const leaked = parts.train[0]!;
    const link = join(tempDir('link'), 'other-name.png');
    symlinkSync(leaked.file, link);
    const viaLink = file({ ...parts, test: [...parts.test, { file: link, label: leaked.label }] });
    await expect(buildSplit({ ...settings(data), splitFile: viaLink })).rejects.toThrow(
      new RegExp(`^1 image is in both train and test \\(e\\.g\\. ${leaked.file} = ${link}, same file\\); a test set must not share images with training or validation$`),
    );
    const repeated = file({ ...parts, test: [...parts.test, leaked] });
    await expect(buildSplit({ ...settings(data), splitFile: repeated })).rejects.toThrow(/file\(s\) in more than one split/);
  });

  it('refuses identical files within the dataset that the seeded split puts into two parts', async () => {
    const data = folder({ benign: 10, malignant: 10 });
    copyFileSync(join(data, 'benign', 'img0.png'), join(data, 'benign', 'same-bytes.png'));
    const loaded = await loadDataset(data);
    const partOf = (seed: number, name: string): string => {
      const parts = stratifiedSplit(loaded.items, { ratios: [0.7, 0.2, 0.1], seed });
      return (['train', 'val', 'test'] as const).find((p) => parts[p].some((it) => it.file.endsWith(name)))!;
    };
    const apart = (seed: number): boolean => partOf(seed, 'img0.png') !== partOf(seed, 'same-bytes.png');
    const seeds = Array.from({ length: 60 }, (_, i) => i);
    const split = seeds.find(apart)!;
    const together = seeds.find((s) => !apart(s))!;
    expect(split).toBeDefined();
    expect(together).toBeDefined();
    await expect(buildSplit({ ...settings(data), seed: split })).rejects.toThrow(
      /^1 image is in both (train|val) and (val|test) \(e\.g\. .*(img0|same-bytes)\.png = .*(img0|same-bytes)\.png, same content\); a (test|validation) set must not share images with training/,
    );
    await expect(buildSplit({ ...settings(data), seed: together })).resolves.toMatchObject({ seed: together });
  });

  it('checkNoLeaks hashes only sizes shared between parts: same-sized different files pass', () => {
    const dir = tempDir('sizes');
    const a = join(dir, 'a.png');
    const b = join(dir, 'b.png');
    writePng(a, 8, 6, 10);
    writePng(b, 8, 6, 200);
    expect(() => checkNoLeaks({ train: [{ file: a, label: 0 }], val: [{ file: b, label: 0 }], test: [] })).not.toThrow();
    copyFileSync(a, b);
    expect(() => checkNoLeaks({ train: [{ file: a, label: 0 }], val: [{ file: b, label: 0 }], test: [] })).toThrow(
      /^1 image is in both train and val \(.*, same content\); a validation set must not share images with training$/,
    );
  });
});

describe('class sizes', () => {
  it('refuses a class with fewer images than splits, stratified and grouped', async () => {
    const data = folder({ benign: 2, malignant: 6 });
    const message = /^class 'benign' has 2 images, fewer than the 3 splits \(train, val, test\); add images or drop the class$/;
    await expect(buildSplit(settings(data))).rejects.toThrow(message);
    await expect(buildSplit({ ...settings(data), groupBy: 'patient' })).rejects.toThrow(message);
    await expect(buildSplit({ ...settings(data), split: [0.5, 0.5] })).resolves.toMatchObject({ classes: ['benign', 'malignant'] });
  });
});

/** A manifest CSV of distinct PNGs with the given labels. */
function manifest(labels: string[]): string {
  const dir = tempDir('labels');
  const rows = labels.map((label, i) => {
    writePng(join(dir, `${i}.png`), 8 + i, 6, i * 20);
    return `${i}.png,"${label}"`;
  });
  writeFileSync(join(dir, 'labels.csv'), ['path,label', ...rows].join('\n'));
  return join(dir, 'labels.csv');
}

const NFC = 'n\u00e4vus';
const NFD = 'na\u0308vus';

describe('label variants', () => {
  it('refuses labels that differ only in case or Unicode form, listing them', async () => {
    const csv = manifest(['benign', 'benign', 'benign', 'Malignant ', 'malignant', 'malignant', NFC, NFC, NFD]);
    await expect(loadDataset(csv)).rejects.toThrow(
      new RegExp(
        `^manifest .*labels\\.csv: labels that differ only in case, spaces or Unicode form: 'Malignant', 'malignant' \\(class malignant\\); ` +
          `'${NFD}' \\(decomposed Unicode\\), '${NFC}' \\(class ${NFC}\\); fix the labels or merge them with labelNormalize$`,
      ),
    );
  });

  it('refuses class folders that differ only in surrounding spaces', async () => {
    const data = folder({ benign: 3, 'benign ': 3, malignant: 3 });
    await expect(loadDataset(data)).rejects.toThrow(/: labels that differ only in case, spaces or Unicode form: 'benign', 'benign ' \(class benign\); fix the labels/);
    const merged = await loadDataset(data, { labelNormalize: true });
    expect(merged.classes).toEqual(['benign', 'malignant']);
    expect(merged.items.filter((it) => it.label === 0)).toHaveLength(6);
  });

  it('labelNormalize merges them under the most frequent variant', async () => {
    const csv = manifest(['benign', 'Benign', 'Benign', 'Malignant', 'malignant', 'malignant', NFC, NFD, NFD]);
    const ds = await loadDataset(csv, { labelNormalize: true });
    expect(ds.classes).toEqual(['Benign', 'malignant', NFC]);
    expect(ds.classes.map((_, k) => ds.items.filter((it) => it.label === k).length)).toEqual([3, 3, 3]);
    const split = await buildSplit({ ...settings(csv), split: [0.5, 0.5], labelNormalize: true });
    expect(split.classes).toHaveLength(3);
    await expect(buildSplit({ ...settings(csv), split: [0.5, 0.5] })).rejects.toThrow(/labels that differ only in case/);
  });
});

const capture = (args: string[]) => captureCommand(registerDataCommands, args);

describe('data inspect and data split', () => {
  it('name --label-normalize, merge with it, and refuse small classes and shared images', async () => {
    const csv = manifest(['benign', 'benign', 'Benign', 'malignant', 'malignant', 'malignant']);
    const refused = await capture(['data', 'inspect', csv]);
    expect(String(refused.error)).toMatch(/'Benign', 'benign' \(class benign\); fix the labels or merge them with --label-normalize$/);
    const merged = await capture(['data', 'inspect', csv, '--label-normalize']);
    expect(merged.error).toBeUndefined();
    expect(merged.out).toMatch(/benign/);
    expect(merged.out).not.toMatch(/Benign/);
    const out = join(tempDir('cli-split'), 'split.json');
    const small = await capture(['data', 'split', csv, '--label-normalize', '--ratios', '0.5,0.3,0.2', '--out', out]);
    expect(small.error).toBeUndefined();
    const data = folder({ benign: 2, malignant: 4 });
    const few = await capture(['data', 'split', data, '--ratios', '0.5,0.3,0.2', '--out', out]);
    expect(String(few.error)).toMatch(/class 'benign' has 2 images, fewer than the 3 splits \(train, val, test\)/);
    const dup = folder({ benign: 10, malignant: 10 });
    for (let i = 0; i < 10; i++) copyFileSync(join(dup, 'malignant', `img${i}.png`), join(dup, 'malignant', `copy${i}.png`));
    const leak = await capture(['data', 'split', dup, '--ratios', '0.5,0.3,0.2', '--out', join(dup, '..', 'dup.json')]);
    expect(String(leak.error)).toMatch(/images? (is|are) in both .*same content/);
  });
});
