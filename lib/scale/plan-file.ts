// The study plan as a file other tools can run: plan.json in the study folder lists every
// training unit with its id, the command that runs it (`thtl-native run-unit DIR ID`), the
// units it depends on, its dependency level and the files it leaves when finished.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { packageRoot } from '../../binding/locate.js';
import type { PreparedStudy } from '../experiment/prepare.js';
import type { Unit } from '../experiment/plan.js';
import { writeJsonAtomic } from '../util/runfolder.js';

/** The files a finished unit leaves in its run folder. */
export const UNIT_OUTPUTS = ['config.json', 'split.json', 'metrics.jsonl', 'weights.safetensors', 'predictions.csv', 'final.json'] as const;

export interface PlanUnit {
  /** `resnet50.run-1.plus`: the run folder below runs/, with dots */
  id: string;
  /** run folder relative to the study folder */
  dir: string;
  /** 0 for units that start from ImageNet (or nothing); a unit that starts from another is one level above it */
  level: number;
  dependsOn: string[];
  model: string;
  domain: Unit['domain'];
  seed: number;
  /** the command line that runs the unit (argv; run it in `cwd`) */
  command: string[];
  /** files the unit leaves, relative to the study folder */
  outputs: string[];
}

export interface PlanFile {
  version: 1;
  study: string;
  /** the study folder (absolute) */
  dir: string;
  /** the folder the study's relative paths (datasets, weights) are relative to */
  cwd: string;
  units: PlanUnit[];
  /** unit ids by dependency level; a level's units may run in parallel once the levels below have finished */
  levels: string[][];
}

export function unitId(u: Pick<Unit, 'dir'>): string {
  return u.dir.replace(/^runs\//, '').replaceAll('/', '.');
}

/** The command that starts this CLI: node and bin/thtl-native.js, as absolute paths. */
export function cliCommand(): string[] {
  return [process.execPath, join(packageRoot(), 'bin', 'thtl-native.js')];
}

/** The plan's units with ids, levels and commands. */
export function planUnits(units: readonly Unit[], out: string): PlanUnit[] {
  const byDir = new Map(units.map((u) => [u.dir, u]));
  const levelOf = (u: Unit, seen = 0): number => {
    if (!u.after) return 0;
    const dep = byDir.get(u.after);
    if (!dep || seen > units.length) throw new Error(`unit ${u.dir} starts from ${u.after}, which is not in the plan`);
    return levelOf(dep, seen + 1) + 1;
  };
  return units.map((u) => ({
    id: unitId(u),
    dir: u.dir,
    level: levelOf(u),
    dependsOn: u.after ? [unitId({ dir: u.after })] : [],
    model: u.model,
    domain: u.domain,
    seed: u.seed,
    command: [...cliCommand(), 'run-unit', out, unitId(u)],
    outputs: UNIT_OUTPUTS.map((f) => `${u.dir}/${f}`),
  }));
}

/** Writes <study>/plan.json for a prepared study and returns it. */
export function writePlanFile(prepared: Pick<PreparedStudy, 'out' | 'plan' | 'cfg'>): PlanFile {
  const units = planUnits(prepared.plan.units, prepared.out);
  const depth = Math.max(-1, ...units.map((u) => u.level)) + 1;
  const levels = Array.from({ length: depth }, (_, k) => units.filter((u) => u.level === k).map((u) => u.id));
  const file: PlanFile = { version: 1, study: prepared.cfg.name, dir: prepared.out, cwd: process.cwd(), units, levels };
  writeJsonAtomic(join(prepared.out, 'plan.json'), file);
  return file;
}

export function readPlanFile(dir: string): PlanFile {
  const path = join(dir, 'plan.json');
  if (!existsSync(path)) throw new Error(`${path} does not exist: make the plan with \`thtl-native plan\` (or a study command with --executor)`);
  const file = JSON.parse(readFileSync(path, 'utf8')) as PlanFile;
  if (file.version !== 1 || !Array.isArray(file.units)) throw new Error(`${path} is not a plan file of this version of thtl-native`);
  return file;
}

/** True when the unit's run has finished (its final.json exists). */
export function unitFinished(studyDir: string, u: Pick<PlanUnit, 'dir'>): boolean {
  return existsSync(join(studyDir, u.dir, 'final.json'));
}
