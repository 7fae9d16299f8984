// Study planning: protocols -> training units (deduplicated, + models first) and report rows.
import { describe, expect, it } from 'vitest';

import { planStudy, runSeed } from '../../lib/experiment/plan.js';
import { parseProtocols } from '../../lib/experiment/protocols.js';

const RESNET = ['fc', 'layer4', 'layer3', 'layer2', 'layer1', 'stem'];
const groupsOf = () => RESNET;

describe('planStudy', () => {
  it('protocols 1-4 make one unit each per run, 4 makes + and ++', () => {
    const plan = planStudy({ experiments: [{ protocols: parseProtocols('1,2,3,4'), models: ['resnet50'] }], runs: 3, seed: 123 }, groupsOf);
    expect(plan.units).toHaveLength(3 * 5);
    expect(plan.entries.map((e) => e.stage).filter((s, i, a) => a.indexOf(s) === i)).toEqual(['expt1', 'expt2', 'expt3', 'plus', 'plusplus']);
    // + models come first, so ++ can start from them
    expect(plan.units.slice(0, 3).every((u) => u.domain === 'intermediate')).toBe(true);
    const pp = plan.units.find((u) => u.dir === 'runs/resnet50/run-2/plusplus')!;
    expect(pp).toMatchObject({ init: 'plus', after: 'runs/resnet50/run-2/plus', trainable: ['fc'], seed: runSeed(123, 2) });
    const e3 = plan.units.find((u) => u.dir === 'runs/resnet50/run-1/expt3')!;
    expect(e3).toMatchObject({ init: 'imagenet', trainable: ['fc'] });
    expect(new Set(plan.entries.map((e) => e.seed)).size).toBe(3);
  });

  it('SWFT and LoRA share the + model and step 1 (= ++); step k trains the first k groups', () => {
    const plan = planStudy({ experiments: [{ protocols: parseProtocols('4,swft,lora-swft'), models: ['resnet50'] }], runs: 1, seed: 1 }, groupsOf);
    // plus, plusplus, swft 2..6, lora 2..6
    expect(plan.units.map((u) => u.dir)).toEqual([
      'runs/resnet50/run-1/plus',
      'runs/resnet50/run-1/plusplus',
      ...[2, 3, 4, 5, 6].map((k) => `runs/resnet50/run-1/swft-step-${k}`),
      ...[2, 3, 4, 5, 6].map((k) => `runs/resnet50/run-1/lora-step-${k}`),
    ]);
    const swft = plan.entries.filter((e) => e.stage === 'swft');
    expect(swft.map((e) => e.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(swft[0]!.dir).toBe('runs/resnet50/run-1/plusplus');
    expect(plan.units.find((u) => u.dir.endsWith('swft-step-3'))!.trainable).toEqual(['fc', 'layer4', 'layer3']);
    expect(plan.units.find((u) => u.dir.endsWith('swft-step-6'))!.trainable).toBe('all');
    const lora3 = plan.units.find((u) => u.dir.endsWith('lora-step-3'))!;
    expect(lora3).toMatchObject({ trainable: ['fc'], lora: ['layer4', 'layer3'] });
    expect(plan.units.find((u) => u.dir.endsWith('lora-step-6'))!.lora).toEqual(RESNET.slice(1));
    expect(plan.entries.filter((e) => e.stage === 'lora')[0]!.dir).toBe('runs/resnet50/run-1/plusplus');
  });

  it('chosen steps only; a step beyond the groups is an error naming them', () => {
    const plan = planStudy({ experiments: [{ protocols: ['swft'], models: ['m'], steps: [3] }], runs: 1, seed: 1 }, groupsOf);
    expect(plan.units.map((u) => u.dir)).toEqual(['runs/m/run-1/plus', 'runs/m/run-1/swft-step-3']);
    expect(() => planStudy({ experiments: [{ protocols: ['swft'], models: ['m'], steps: [7] }], runs: 1, seed: 1 }, groupsOf)).toThrow(
      /step 7 does not exist for m: steps run from 1 to 6 \(fc, layer4/,
    );
  });

  it('rejects unknown protocols and bad run counts', () => {
    expect(() => parseProtocols('1,5')).toThrow(/unknown protocol '5'.*lora-swft/);
    expect(() => planStudy({ experiments: [{ protocols: ['1'], models: ['m'] }], runs: 0, seed: 1 }, groupsOf)).toThrow(/runs must be a positive integer/);
  });

  it('run seeds differ per run and are reproducible', () => {
    expect(runSeed(123, 1)).toBe(runSeed(123, 1));
    expect(new Set([1, 2, 3].map((r) => runSeed(123, r))).size).toBe(3);
  });
});
