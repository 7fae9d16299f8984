// `thtl-native status DIR`: each unit's state, from the study folder (finished runs,
// run-folder locks, started runs) and, for a study submitted to Slurm, from squeue/sacct.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { registryPlan } from '../experiment/prepare.js';
import { holderGone, readLock, describeHolder } from '../util/lock.js';
import { planUnits, readPlanFile, unitFinished, type PlanFile, type PlanUnit } from './plan-file.js';
import { studyConfigAt } from './run-unit.js';
import { ACTIVE_STATES, FAILED_STATES, lastSubmission, queryTasks, readJobsFile, runSlurmCommand, type SlurmRunner } from './slurm.js';

export type UnitState = 'done' | 'running' | 'queued' | 'blocked' | 'failed' | 'interrupted' | 'not started';

export interface UnitStatus {
  unit: PlanUnit;
  state: UnitState;
  /** the Slurm state and reason, the lock's holder, or what is known */
  detail: string;
  /** Slurm job of the unit's last submission (`12_3`) */
  job?: string;
  log?: string;
}

export interface StudyStatus {
  dir: string;
  units: UnitStatus[];
  /** why Slurm could not be asked, when it was needed */
  slurmNote?: string;
}

function planOf(dir: string): PlanFile {
  if (existsSync(join(dir, 'plan.json'))) return readPlanFile(dir);
  const cfg = studyConfigAt(dir);
  const units = planUnits(registryPlan(cfg).units, cfg.out);
  return { version: 1, study: cfg.name, dir: cfg.out, cwd: process.cwd(), units, levels: [] };
}

export function studyStatus(dir: string, run: SlurmRunner = runSlurmCommand): StudyStatus {
  const plan = planOf(dir);
  const out = resolve(dir);
  const jobs = readJobsFile(out);
  const at = lastSubmission(jobs);
  const ids = [...new Set([...at.values()].map((j) => j.jobId).filter((j): j is string => j !== null))];
  let states = new Map<string, { state: string; reason: string }>();
  let slurmNote: string | undefined;
  if (ids.length > 0) {
    try {
      states = queryTasks(ids, run);
    } catch (err) {
      slurmNote = `Slurm could not be asked (${(err as Error).message}); states below are from the study folder only`;
    }
  }
  const units = plan.units.map((unit): UnitStatus => {
    const folder = join(out, unit.dir);
    const localLog = join(out, 'logs', `${unit.id}.log`);
    if (unitFinished(out, unit)) return { unit, state: 'done', detail: '' };
    const holder = readLock(join(folder, 'run.lock'));
    const held = holder && !holderGone(holder) ? describeHolder(holder) : null;
    const j = at.get(unit.id);
    if (j?.jobId) {
      const job = `${j.jobId}_${j.task}`;
      const s = states.get(job);
      const reason = s?.reason && s.reason !== 'None' ? ` (${s.reason})` : '';
      if (s?.state === 'PENDING' && /DependencyNeverSatisfied/.test(s.reason))
        return { unit, state: 'blocked', detail: `waits on a unit that failed${reason}`, job, log: j.log };
      if (s && ACTIVE_STATES.has(s.state))
        return { unit, state: s.state === 'PENDING' ? 'queued' : 'running', detail: `${s.state}${reason}${held ? `, ${held}` : ''}`, job, log: j.log };
      if (held) return { unit, state: 'running', detail: held, job, log: j.log };
      if (s && (FAILED_STATES.has(s.state) || s.state === 'COMPLETED'))
        return { unit, state: 'failed', detail: s.state === 'COMPLETED' ? 'COMPLETED without final.json' : s.state, job, log: j.log };
      const started = existsSync(join(folder, 'config.json'));
      return { unit, state: started ? 'interrupted' : 'not started', detail: 'Slurm no longer knows the job', job, log: j.log };
    }
    if (held) return { unit, state: 'running', detail: held };
    if (existsSync(join(folder, 'config.json')))
      return { unit, state: 'interrupted', detail: 'started, not finished', ...(existsSync(localLog) ? { log: localLog } : {}) };
    return { unit, state: 'not started', detail: '' };
  });
  return { dir: out, units, ...(slurmNote ? { slurmNote } : {}) };
}

/** The status as a table for the terminal, with counts and the failed units' logs. */
export function formatStatus(s: StudyStatus): string {
  const idWidth = Math.max(4, ...s.units.map((u) => u.unit.id.length)) + 2;
  const lines = [`${'unit'.padEnd(idWidth)}${'level'.padEnd(7)}${'state'.padEnd(13)}${'job'.padEnd(12)}detail`];
  for (const u of s.units) lines.push(`${u.unit.id.padEnd(idWidth)}${String(u.unit.level).padEnd(7)}${u.state.padEnd(13)}${(u.job ?? '').padEnd(12)}${u.detail}`);
  const counts = new Map<UnitState, number>();
  for (const u of s.units) counts.set(u.state, (counts.get(u.state) ?? 0) + 1);
  lines.push('', `${s.units.length} unit(s): ${[...counts].map(([k, v]) => `${v} ${k}`).join(', ')}`);
  const failed = s.units.filter((u) => u.state === 'failed');
  if (failed.length > 0) {
    lines.push('failed (logs):');
    for (const u of failed) lines.push(`  ${u.unit.id}: ${u.log ?? '(no log)'}`);
    lines.push('submit them again with the same study command and --retry-failed');
  }
  if (s.units.length > 0 && s.units.every((u) => u.state === 'done')) lines.push(`every unit has finished: thtl-native report ${s.dir}`);
  if (s.slurmNote) lines.push(s.slurmNote);
  return lines.join('\n');
}
