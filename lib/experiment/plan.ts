// The study plan: protocols x models x runs expanded into training units. The `+` model
// of a (model, run) is trained once and reused by `++`, SWFT and LoRA; SWFT step 1 and
// LoRA step 1 are the `++` recipe (head only, no adapters), so they share its run folder.
import { mixSeed } from '../util/rng.js';
import type { StudyConfig } from './study-config.js';
import type { PlanEntry, Stage } from './types.js';

/** One training run to do; several plan entries (report rows) may point at one unit. */
export interface Unit {
  /** run folder relative to the study folder; also the unit's identity */
  dir: string;
  model: string;
  run: number;
  seed: number;
  domain: 'target' | 'intermediate';
  init: 'imagenet' | 'random' | 'plus';
  /** 'all', or the group names that train */
  trainable: 'all' | string[];
  lora?: string[];
  /** unit dir whose weights.safetensors this one starts from */
  after?: string;
}

export interface Plan {
  units: Unit[];
  entries: PlanEntry[];
}

export function runSeed(base: number, run: number): number {
  return mixSeed(base, run);
}

/** Expands the experiments into units (deduplicated, dependencies first) and report entries. */
export function planStudy(cfg: Pick<StudyConfig, 'experiments' | 'runs' | 'seed'>, groupsOf: (model: string) => string[]): Plan {
  if (!Number.isInteger(cfg.runs) || cfg.runs < 1) throw new Error(`runs must be a positive integer, got ${cfg.runs}`);
  const units = new Map<string, Unit>();
  const entries: PlanEntry[] = [];
  const add = (u: Unit): string => {
    if (!units.has(u.dir)) units.set(u.dir, u);
    return u.dir;
  };
  for (const set of cfg.experiments) {
    for (const model of set.models) {
      const groups = groupsOf(model);
      const steps = set.steps ?? groups.map((_, i) => i + 1);
      for (const k of steps)
        if (!Number.isInteger(k) || k < 1 || k > groups.length)
          throw new Error(`step ${k} does not exist for ${model}: steps run from 1 to ${groups.length} (${groups.join(', ')})`);
      for (let run = 1; run <= cfg.runs; run++) {
        const seed = runSeed(cfg.seed, run);
        const base = `runs/${model}/run-${run}`;
        const common = { model, run, seed };
        const entry = (stage: Stage, dir: string, step?: number) =>
          entries.push({ stage, model, run, seed, dir, ...(step !== undefined ? { step } : {}) });
        const plus = () => add({ ...common, dir: `${base}/plus`, domain: 'intermediate', init: 'imagenet', trainable: 'all' });
        const plusplus = (p: string) => add({ ...common, dir: `${base}/plusplus`, domain: 'target', init: 'plus', trainable: [groups[0]!], after: p });
        for (const protocol of set.protocols) {
          if (protocol === '1') entry('expt1', add({ ...common, dir: `${base}/expt1`, domain: 'target', init: 'imagenet', trainable: 'all' }));
          if (protocol === '2') entry('expt2', add({ ...common, dir: `${base}/expt2`, domain: 'target', init: 'random', trainable: 'all' }));
          if (protocol === '3') entry('expt3', add({ ...common, dir: `${base}/expt3`, domain: 'target', init: 'imagenet', trainable: [groups[0]!] }));
          if (protocol === '4') {
            const p = plus();
            entry('plus', p);
            entry('plusplus', plusplus(p));
          }
          if (protocol === 'swft' || protocol === 'lora-swft') {
            const p = plus();
            const lora = protocol === 'lora-swft';
            for (const k of steps) {
              const first = groups.slice(0, k);
              const dir =
                k === 1
                  ? plusplus(p)
                  : add({
                      ...common,
                      dir: `${base}/${lora ? 'lora' : 'swft'}-step-${k}`,
                      domain: 'target',
                      init: 'plus',
                      trainable: lora ? [groups[0]!] : k === groups.length ? 'all' : first,
                      ...(lora ? { lora: first.slice(1) } : {}),
                      after: p,
                    });
              entry(lora ? 'lora' : 'swft', dir, k);
            }
          }
        }
      }
    }
  }
  // dependencies first: every + model before the target runs that start from it
  const ordered = [...units.values()].sort((a, b) => Number(b.domain === 'intermediate') - Number(a.domain === 'intermediate'));
  return { units: ordered, entries };
}
