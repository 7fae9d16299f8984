// Study config files: the shipped paper.json, defaults, overrides and clear errors.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { mergeStudy, readStudyConfig } from '../../lib/experiment/config-file.js';
import { planStudy } from '../../lib/experiment/plan.js';
import { unitConfig } from '../../lib/experiment/unit-config.js';
import { tempDir } from '../helpers/images.js';
import { ROOT } from '../helpers/python.js';

function write(obj: unknown): string {
  const path = join(tempDir('cfg'), 'study.json');
  writeFileSync(path, typeof obj === 'string' ? obj : JSON.stringify(obj));
  return path;
}

describe('study config files', () => {
  it("configs/paper.json is the paper's study with the paper's recipe", () => {
    const file = readStudyConfig(join(ROOT, 'configs', 'paper.json'));
    const cfg = mergeStudy(file, { target: 'cenbi.xlsx', out: 'runs/paper' });
    expect(cfg.experiments[0]!.models).toHaveLength(11);
    expect(cfg.experiments[0]!.protocols).toEqual(['1', '2', '3', '4']);
    expect(cfg.experiments[1]).toEqual({ protocols: ['swft', 'lora-swft'], models: ['resnet50'] });
    expect(cfg).toMatchObject({ runs: 3, seed: 123, targetSplit: [0.7, 0.2, 0.1], intermediateSplit: [0.7, 0.3], lora: { rank: 8, alpha: 16 } });
    expect(cfg.recipe).toMatchObject({ epochs: 70, batchSize: 32, patience: 10, minDelta: 0, monitor: 'val_loss', stepSize: 5, gamma: 0.5 });
    // 11 models x 3 runs x (expt1, expt2, expt3, +, ++) + resnet50 x 3 x (swft 2-6, lora 2-6)
    const plan = planStudy(cfg, (m) => (m.startsWith('resnet') ? ['fc', 'layer4', 'layer3', 'layer2', 'layer1', 'stem'] : ['head', 'body']));
    expect(plan.units).toHaveLength(11 * 3 * 5 + 3 * 10);
  });

  it('precision and memory format reach every unit, fp32 and default layout unless asked', () => {
    const base = { experiments: [{ protocols: ['2' as const], models: ['resnet18'] }], target: 't', out: 'o' };
    expect(mergeStudy(base).recipe).toMatchObject({ precision: 'fp32', channelsLast: false });
    const cfg = mergeStudy(base, { recipe: { precision: 'bf16', channelsLast: true } });
    expect(cfg.recipe).toMatchObject({ precision: 'bf16', channelsLast: true });
    const units = planStudy(cfg, () => ['fc', 'layer4']).units;
    expect(units.length).toBeGreaterThan(0);
    for (const u of units) expect(unitConfig(cfg, u, { target: 'split.json' })).toMatchObject({ precision: 'bf16', channelsLast: true });
  });

  it("precision 'auto' stays 'auto' in the study's recipe (a file's or a flag's) and reaches every unit: each run resolves it for its model", () => {
    const base = { experiments: [{ protocols: ['2' as const], models: ['resnet18', 'vit_b_16'] }], target: 't', out: 'o' };
    const fromFile = readStudyConfig(write({ ...base, recipe: { precision: 'auto' } }));
    for (const cfg of [mergeStudy(fromFile), mergeStudy(base, { recipe: { precision: 'auto' } })]) {
      expect(cfg.recipe).toMatchObject({ precision: 'auto', channelsLast: false });
      const units = planStudy(cfg, () => ['head', 'body']).units;
      expect(new Set(units.map((u) => u.model))).toEqual(new Set(['resnet18', 'vit_b_16']));
      for (const u of units) expect(unitConfig(cfg, u, { target: 'split.json' })).toMatchObject({ precision: 'auto', channelsLast: false });
    }
  });

  it('flags override the file, the file overrides the defaults', () => {
    const file = readStudyConfig(write({ experiments: [{ protocols: ['1'], models: ['resnet18'] }], target: 't', out: 'o', recipe: { epochs: 5 } }));
    const cfg = mergeStudy(file, { recipe: { epochs: 2, patience: undefined }, runs: 1 });
    expect(cfg.recipe.epochs).toBe(2);
    expect(cfg.recipe.patience).toBe(10);
    expect(cfg.runs).toBe(1);
    expect(cfg.target).toBe('t');
  });

  it('names unknown keys, bad JSON and missing fields', () => {
    expect(() => readStudyConfig(write({ runz: 3 }))).toThrow(/unknown key\(s\) 'runz'/);
    expect(() => readStudyConfig(write({ recipe: { epoch: 3 } }))).toThrow(/recipe: unknown key\(s\) 'epoch'/);
    expect(() => readStudyConfig(write({ experiments: [{ protocols: ['9'], models: ['resnet18'] }] }))).toThrow(/unknown protocol '9'/);
    expect(() => readStudyConfig(write('{ not json'))).toThrow(/is not valid JSON/);
    expect(() => readStudyConfig('/no/such/config.json')).toThrow(/\/no\/such\/config.json does not exist/);
    expect(() => mergeStudy({ target: 't', out: 'o' })).toThrow(/no experiments/);
    expect(() => mergeStudy({ experiments: [{ protocols: ['1'], models: ['m'] }], out: 'o' })).toThrow(/target dataset/);
    expect(() => mergeStudy({ experiments: [{ protocols: ['1'], models: ['m'] }], target: 't', out: 'o', lora: { rank: 0, alpha: 16 } })).toThrow(/LoRA rank/);
    const base = { experiments: [{ protocols: ['1' as const], models: ['m'] }], target: 't', out: 'o' };
    expect(() => mergeStudy({ ...base, recipe: { precision: 'fp64' as 'fp32' } })).toThrow(/precision must be one of fp32, bf16, fp16, auto, got 'fp64'/);
    expect(() => mergeStudy({ ...base, recipe: { channelsLast: 'yes' as unknown as boolean } })).toThrow(/channelsLast must be true or false/);
  });
});
