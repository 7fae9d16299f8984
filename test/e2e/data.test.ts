// `thtl-native data inspect --decode` and `data split` as a user runs them, on small real JPEGs.
import { readFileSync, readdirSync, truncateSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { runProcess, type ProcessResult } from '../helpers/process.js';
import { ROOT } from '../helpers/python.js';
import { tempDir, vesselFolder } from '../helpers/images.js';
import type { SplitFile } from '../../lib/split/index.js';

const BIN = join(ROOT, 'bin', 'thtl-native.js');
const cli = (args: string[]): Promise<ProcessResult> => runProcess(process.execPath, [BIN, ...args]);

describe('thtl-native data inspect --decode', () => {
  it('reports a truncated JPEG (whose header still reads) and exits 1; a clean folder exits 0', async () => {
    const data = vesselFolder(4, 48);
    const clean = await cli(['data', 'inspect', data, '--decode', '--threads', '1']);
    expect(clean.code, clean.stderr).toBe(0);
    expect(clean.stdout).toMatch(/unreadable files \(every image decoded\): none/);

    const bad = join(data, 'malignant', readdirSync(join(data, 'malignant')).sort()[1]!);
    truncateSync(bad, Math.floor(statSync(bad).size / 2));
    // the header alone does not show it
    const headers = await cli(['data', 'inspect', data]);
    expect(headers.code, headers.stderr).toBe(0);
    expect(headers.stdout).toMatch(/unreadable files: none/);

    const report = join(tempDir('inspect'), 'report.json');
    const r = await cli(['data', 'inspect', data, '--decode', '--threads', '1', '--report', report]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(/unreadable files \(every image decoded\): 1\n/);
    expect(r.stdout).toContain(`  ${bad}: `);
    expect(r.stderr).toMatch(/1 of 8 images cannot be read or decoded/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    const json = JSON.parse(readFileSync(report, 'utf8')) as { decoded: boolean; unreadable: { file: string; reason: string }[] };
    expect(json.decoded).toBe(true);
    expect(json.unreadable.map((u) => u.file)).toEqual([bad]);
    expect(json.unreadable[0]!.reason.length).toBeGreaterThan(0);
  }, 60_000);
});

describe('thtl-native data split', () => {
  it('without --ratios writes a 0.7/0.2/0.1 split', async () => {
    const data = vesselFolder(10, 32);
    const out = join(tempDir('split'), 'split.json');
    const r = await cli(['data', 'split', data, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/ratios 0\.7\/0\.2\/0\.1, remainder train/);
    const split = JSON.parse(readFileSync(out, 'utf8')) as SplitFile;
    expect(split.ratios).toEqual([0.7, 0.2, 0.1]);
    expect([split.train.length, split.val.length, split.test.length]).toEqual([14, 4, 2]);
    const help = await cli(['data', 'split', '--help']);
    expect(help.stdout).toMatch(/--ratios <r>\s+train,val\[,test\] ratios \(default: 0\.7,0\.2,0\.1\)/);
  }, 60_000);
});
