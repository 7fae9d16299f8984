// A study with folds: the plan (run k = fold k, run folders fold-<k>), the config rules
// (folds replace runs), the target's fold splits (splits/folds.json written once, each
// fold's split file, a folds.json of other settings refused) and each unit's split file.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { mergeStudy } from '../../lib/experiment/config-file.js';
import { planStudy, runSeed } from '../../lib/experiment/plan.js';
import { parseProtocols } from '../../lib/experiment/protocols.js';
import { DEFAULT_STUDY, type StudyConfig } from '../../lib/experiment/study-config.js';
import { unitConfig } from '../../lib/experiment/unit-config.js';
import { readSplitFile } from '../../lib/split/file.js';
import { studySplits } from '../../lib/split/study.js';
import { writeSynthDataset } from '../../lib/synth/write.js';
import { consoleProgress } from '../../lib/util/progress.js';
import { tempDir } from '../helpers/images.js';
import { runProcess } from '../helpers/process.js';
import { ROOT } from '../helpers/python.js';

const RESNET = ['fc', 'layer4', 'layer3', 'layer2', 'layer1', 'stem'];
const experiments = [{ protocols: parseProtocols('1,4'), models: ['resnet18'] }];

describe('a study with folds', () => {
  it('plans run k as fold k in fold-<k> run folders, with run k seeds', () => {
    const plan = planStudy({ experiments, runs: 3, folds: 3, seed: 7 }, () => RESNET);
    expect(plan.units.map((u) => u.dir).sort()).toEqual(
      [1, 2, 3].flatMap((k) => ['expt1', 'plus', 'plusplus'].map((u) => `runs/resnet18/fold-${k}/${u}`)).sort(),
    );
    for (const u of plan.units) expect(u.seed).toBe(runSeed(7, u.fold!));
    expect(plan.units.every((u) => u.fold === u.run)).toBe(true);
    expect(plan.entries.every((e) => e.fold === e.run && e.dir.includes(`/fold-${e.fold}/`))).toBe(true);
    // without folds nothing changes
    const runs = planStudy({ experiments, runs: 2, seed: 7 }, () => RESNET);
    expect(runs.units.every((u) => u.fold === undefined && u.dir.includes('/run-'))).toBe(true);
    expect(() => planStudy({ experiments, runs: 2, folds: 3, seed: 7 }, () => RESNET)).toThrow('with folds, runs is the number of folds: got runs 2, folds 3');
  });

  it('folds replace runs: a later --folds wins over a config\'s runs; runs with or after folds is refused', () => {
    const base = { experiments, target: 't', out: 'o' };
    expect(mergeStudy(base, { folds: 5 }).runs).toBe(5);
    expect(mergeStudy({ ...base, runs: 3 }, { folds: 5 })).toMatchObject({ runs: 5, folds: 5 });
    expect(() => mergeStudy({ ...base, runs: 3, folds: 5 })).toThrow('runs (3) and folds (5) cannot go together: with folds, run k is fold k; drop runs');
    expect(() => mergeStudy({ ...base, folds: 5 }, { runs: 2 })).toThrow('runs (2) and folds (5) cannot go together');
    expect(() => mergeStudy(base, { folds: 1 })).toThrow('folds must be an integer of at least 2, got 1');
    expect(mergeStudy(base, {}).folds).toBeUndefined();
  });

  it('the command line names its flags: --folds with --runs, --folds below 2, --resume with --force', async () => {
    const cli = (...args: string[]) => runProcess(process.execPath, [join(ROOT, 'bin', 'thtl-native.js'), 'experiment', '--protocol', '1', '--models', 'resnet18', '--target', ROOT, '--out', join(tempDir('folds-cli'), 's'), ...args]);
    const both = await cli('--runs', '2', '--folds', '3');
    expect([both.code, both.stderr]).toEqual([2, 'thtl-native: --runs and --folds cannot go together: with --folds, run k is fold k\nsee thtl-native experiment --help\n']);
    const one = await cli('--folds', '1');
    expect([one.code, one.stderr]).toEqual([2, "thtl-native: --folds must be an integer of at least 2, got '1'\nsee thtl-native experiment --help\n"]);
    // (and the study folder's guard, from the library, names the flags too)
    const both2 = await cli('--resume', '--force');
    expect([both2.code, both2.stderr]).toEqual([2, 'thtl-native: --resume and --force cannot go together: --resume keeps the study in the folder, --force replaces it\nsee thtl-native experiment --help\n']);
  });

  it("makes the target's folds once, a split per fold, and refuses folds.json of other settings", async () => {
    const data = tempDir('study-folds-data');
    const target = writeSynthDataset({ domain: 'target', n: 30, size: 24, seed: 3, out: join(data, 'target') });
    expect(target.files).toBe(30);
    const out = tempDir('study-folds');
    const cfg: StudyConfig = { ...DEFAULT_STUDY, experiments, target: join(data, 'target'), out, folds: 3, runs: 3, seed: 5 };
    const splits = await studySplits(cfg, false, consoleProgress(process.stderr, true));
    expect(splits.target).toBe(join(out, 'splits', 'folds.json'));
    expect(splits.folds).toEqual([1, 2, 3].map((k) => join(out, 'splits', `fold-${k}.json`)));
    const parts = splits.folds!.map((f) => readSplitFile(f));
    // every image in exactly one test fold; no test image in its fold's train or val
    const tests = parts.flatMap((p) => p.test.map((e) => e.file));
    expect(new Set(tests).size).toBe(30);
    expect(tests).toHaveLength(30);
    for (const p of parts) {
      const test = new Set(p.test.map((e) => e.file));
      expect([...p.train, ...p.val].some((e) => test.has(e.file))).toBe(false);
      expect(p.train.length + p.val.length + p.test.length).toBe(30);
      // the val share of train + val is about targetSplit's 0.2 / 0.9 (per class, rounded: 6 of 20 here)
      const share = p.val.length / (p.train.length + p.val.length);
      expect(share).toBeGreaterThan(0.15);
      expect(share).toBeLessThan(0.35);
    }
    // the unit of fold 2 trains on fold 2's split file
    const plan = planStudy(cfg, () => RESNET);
    const unit = plan.units.find((u) => u.fold === 2 && u.domain === 'target')!;
    expect(unitConfig({ ...cfg, initialWeights: { resnet18: 'w.safetensors' } }, unit, splits).splitFile).toBe(splits.folds![1]);

    // again: folds.json is read, not rewritten
    const before = readFileSync(splits.target, 'utf8');
    writeFileSync(splits.target, before); // same bytes, new mtime
    await studySplits(cfg, false, consoleProgress(process.stderr, true));
    expect(readFileSync(splits.target, 'utf8')).toBe(before);
    // other settings: refused, nothing rewritten
    await expect(studySplits({ ...cfg, folds: 4 }, false, consoleProgress(process.stderr, true))).rejects.toThrow(
      `${splits.target} was made with other settings: folds: it has 3, this one 4; use another --out`,
    );
    await expect(studySplits({ ...cfg, seed: 6 }, false, consoleProgress(process.stderr, true))).rejects.toThrow('seed: it has 5, this one 6');
    expect(readFileSync(splits.target, 'utf8')).toBe(before);
    expect(existsSync(join(out, 'splits', 'fold-4.json'))).toBe(false);
  });
});
