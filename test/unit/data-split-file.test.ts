// split.json: atomic write, read back, and the checks made when reusing it.
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { type SplitFile, defaultRemainder, readSplitFile, toEntries, writeSplitFile } from '../../lib/split/index.js';
import { stratifiedSplit } from '../../lib/split/index.js';
import { buildSplit } from '../../lib/split/run.js';
import { writePng } from '../helpers/png.js';

function fixture(): { dir: string; split: SplitFile } {
  const dir = mkdtempSync(join(tmpdir(), 'thtl-splitfile-'));
  const items = Array.from({ length: 20 }, (_, i) => ({ file: join(dir, `img${i}.png`), label: i % 2, group: `P${i >> 1}`, extra: i }));
  for (const it of items) writePng(it.file);
  const s = stratifiedSplit(items, { ratios: [0.7, 0.2, 0.1] });
  const split: SplitFile = {
    version: 1,
    seed: 123,
    ratios: [0.7, 0.2, 0.1],
    remainder: defaultRemainder([0.7, 0.2, 0.1]),
    groupBy: null,
    classes: ['benign', 'malignant'],
    train: toEntries(s.train),
    val: toEntries(s.val),
    test: toEntries(s.test),
  };
  return { dir, split };
}

describe('split.json', () => {
  it('round-trips, keeps only file/label/group, and leaves no temp file', () => {
    const { dir, split } = fixture();
    const path = join(dir, 'runs', 'a', 'split.json');
    writeSplitFile(path, split);
    expect(readdirSync(join(dir, 'runs', 'a'))).toEqual(['split.json']);
    const back = readSplitFile(path, { classes: ['benign', 'malignant'] });
    expect(back).toEqual(split);
    expect(Object.keys(back.train[0]!).sort()).toEqual(['file', 'group', 'label']);
    expect(back.train.length + back.val.length + back.test.length).toBe(20);
    expect(defaultRemainder([0.7, 0.3])).toBe('val');
  });

  it('carries the dataset\'s "ordinal": true from buildSplit, and back', async () => {
    const { dir } = fixture();
    ['g0', 'g1'].forEach((g, c) => { for (let i = 0; i < 6; i++) writePng(join(dir, 'graded', g, `${g}-${i}.png`), 8, 6, c * 20 + i); });
    writeFileSync(join(dir, 'graded.json'), JSON.stringify({ kind: 'imagefolder', root: 'graded', ordinal: true }));
    const graded = await buildSplit({ data: join(dir, 'graded.json'), split: [0.5, 0.5], seed: 1, skipBadImages: false });
    expect(graded.ordinal).toBe(true);
    writeSplitFile(join(dir, 'graded-split.json'), graded);
    expect(readSplitFile(join(dir, 'graded-split.json')).ordinal).toBe(true);
    // not ordinal: no key at all, so the file is as before
    const plain = await buildSplit({ data: join(dir, 'graded'), split: [0.5, 0.5], seed: 1, skipBadImages: false });
    expect('ordinal' in plain).toBe(false);
  });

  it('names every file that no longer exists', () => {
    const { dir, split } = fixture();
    const path = join(dir, 'split.json');
    writeSplitFile(path, split);
    const gone = [split.val[0]!.file, split.test[0]!.file];
    for (const f of gone) rmSync(f);
    expect(() => readSplitFile(path)).toThrow(/2 file\(s\) no longer exist:/);
    expect(() => readSplitFile(path)).toThrow(new RegExp(`${gone[0]!.replace(/[.]/g, '\\.')} \\(val\\)`));
    expect(() => readSplitFile(path)).toThrow(/thtl-native data split/);
  });

  it('rejects other classes, bad shapes, a file in two splits and broken JSON', () => {
    const { dir, split } = fixture();
    const path = join(dir, 'split.json');
    writeSplitFile(path, split);
    expect(() => readSplitFile(path, { classes: ['0', '1'] })).toThrow(/has classes \[benign, malignant\] but the dataset has \[0, 1\]/);
    writeSplitFile(path, { ...split, val: [...split.val, split.train[0]!] });
    expect(() => readSplitFile(path)).toThrow(/1 file\(s\) in more than one split:\n  .*img\d+\.png \(train and val\)/);
    writeSplitFile(path, { ...split, test: [{ file: 'x', label: 2 }] });
    expect(() => readSplitFile(path)).toThrow(/test\[0\] is not \{file, label\} with a label in 0\.\.1/);
    writeSplitFile(path, { ...split, ordinal: 'yes' as unknown as boolean });
    expect(() => readSplitFile(path)).toThrow(`split file ${path}: 'ordinal' must be true or false, got "yes"`);
    writeFileSync(path, '{"classes": ');
    expect(() => readSplitFile(path)).toThrow(/cannot read split file/);
    expect(existsSync(join(dir, 'nope.json'))).toBe(false);
    expect(() => readSplitFile(join(dir, 'nope.json'))).toThrow(/cannot read split file/);
  });
});
