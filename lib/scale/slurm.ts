// The Slurm executor: a prepared study's units as Slurm job arrays, one sbatch script per
// dependency level, each level waiting for the one below (--dependency=afterok), and a
// last one-task job that writes the report. Scripts, logs and the submitted job ids live
// in <study>/slurm/ (jobs.json). The study folder stays the truth of what has finished;
// squeue (and sacct where accounting runs) tell what is queued, running or failed.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { PreparedStudy } from '../experiment/prepare.js';
import type { ProgressSink } from '../util/progress.js';
import { writeJsonAtomic } from '../util/runfolder.js';
import { cliCommand, unitFinished, writePlanFile } from './plan-file.js';

export interface SlurmOptions {
  partition?: string;
  /** partition of the report job (it needs no GPU); default: `partition` */
  reportPartition?: string;
  gpusPerTask?: number;
  cpusPerTask?: number;
  /** time limit of each task, as sbatch takes it (`4:00:00`, `1-00:00:00`) */
  time?: string;
  /** more sbatch options, one `--name=value` each, written as #SBATCH lines */
  sbatchArgs?: string[];
  /** write the scripts, submit nothing */
  dryRun?: boolean;
  /** submit again the units that failed or never ran (after every job of the study has ended) */
  retryFailed?: boolean;
}

/** One sbatch submission: a level's job array, or the report job. */
export interface SlurmJob {
  /** dependency level, or 'report' */
  level: number | 'report';
  /** null in a dry run */
  jobId: string | null;
  script: string;
  /** unit ids in array-task order (task i runs units[i]); none for the report job */
  units: string[];
  /** log file pattern (%a: the array task id) */
  log: string;
}

export interface SlurmRound {
  round: number;
  submitted: string;
  jobs: SlurmJob[];
}

export interface SlurmJobsFile {
  version: 1;
  rounds: SlurmRound[];
}

/** A task's state as squeue (or sacct) reports it. */
export interface TaskState {
  state: string;
  reason: string;
}

/** States of a task that has ended without success. */
export const FAILED_STATES = new Set(['FAILED', 'CANCELLED', 'TIMEOUT', 'OUT_OF_MEMORY', 'NODE_FAIL', 'PREEMPTED', 'BOOT_FAIL', 'DEADLINE', 'REVOKED', 'SPECIAL_EXIT']);
/** States of a task that has not ended. */
export const ACTIVE_STATES = new Set(['PENDING', 'RUNNING', 'CONFIGURING', 'COMPLETING', 'REQUEUED', 'RESIZING', 'SUSPENDED', 'STAGE_OUT', 'SIGNALING', 'REQUEUE_HOLD', 'REQUEUE_FED', 'RESV_DEL_HOLD']);

const jobsPath = (out: string) => join(out, 'slurm', 'jobs.json');

export function readJobsFile(out: string): SlurmJobsFile | null {
  const path = jobsPath(out);
  if (!existsSync(path)) return null;
  return JSON.parse(readFileSync(path, 'utf8')) as SlurmJobsFile;
}

function checkOptions(o: SlurmOptions): void {
  for (const a of o.sbatchArgs ?? [])
    if (!a.startsWith('-') || /[\n\r]/.test(a)) throw new Error(`--sbatch-arg ${JSON.stringify(a)} must be one sbatch option such as --account=proj or --qos=normal`);
  if (o.time !== undefined && !/^(\d+-)?\d+(:\d+){0,2}$|^\d+-\d+$/.test(o.time))
    throw new Error(`--time ${o.time} is not a Slurm time limit (minutes, MM:SS, HH:MM:SS, D-HH or D-HH:MM:SS)`);
  if (o.partition !== undefined && !/^[\w.,-]+$/.test(o.partition)) throw new Error(`--partition ${o.partition} is not a partition name`);
}

/** Quotes a word for bash when it needs it. */
export function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

export interface ScriptSpec {
  name: string;
  /** null for a single-task job */
  units: string[] | null;
  log: string;
  cwd: string;
  command: string[];
  comment: string;
}

/** The text of one sbatch script. An array job runs `command` with the unit of its task appended. */
export function sbatchScript(spec: ScriptSpec, o: SlurmOptions): string {
  const lines = ['#!/bin/bash', `#SBATCH --job-name=${spec.name}`];
  if (spec.units) lines.push(`#SBATCH --array=0-${spec.units.length - 1}`);
  lines.push(`#SBATCH --output=${spec.log}`, `#SBATCH --chdir=${spec.cwd}`, '#SBATCH --ntasks=1');
  if (o.partition) lines.push(`#SBATCH --partition=${o.partition}`);
  if (spec.units && o.gpusPerTask) lines.push(`#SBATCH --gpus-per-task=${o.gpusPerTask}`);
  if (o.cpusPerTask) lines.push(`#SBATCH --cpus-per-task=${o.cpusPerTask}`);
  if (o.time) lines.push(`#SBATCH --time=${o.time}`);
  for (const a of o.sbatchArgs ?? []) lines.push(`#SBATCH ${a}`);
  lines.push(`# ${spec.comment}`, 'set -euo pipefail');
  const cmd = spec.command.map(shellQuote).join(' ');
  if (spec.units) {
    lines.push('units=(', ...spec.units.map((u) => `  ${shellQuote(u)}`), ')');
    lines.push(`exec ${cmd} "\${units[$SLURM_ARRAY_TASK_ID]}"`);
  } else lines.push(`exec ${cmd}`);
  return `${lines.join('\n')}\n`;
}

/** Runs a Slurm command; its stderr names what went wrong. */
export type SlurmRunner = (cmd: string, args: string[]) => string;

export const runSlurmCommand: SlurmRunner = (cmd, args) => {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string; status?: number };
    if (e.code === 'ENOENT') throw new Error(`${cmd} was not found: run this on a Slurm login node (or use --executor local)`);
    throw new Error(`${cmd} ${args.join(' ')} failed${e.status !== undefined ? ` (exit ${e.status})` : ''}: ${(e.stderr ?? e.message).trim()}`);
  }
};

/**
 * Task states of the given jobs from squeue (`squeue -t all` keeps ended jobs for
 * MinJobAge seconds) and sacct where accounting runs. Keys: `JOB_TASK` for array tasks,
 * `JOB` for single jobs.
 */
export function queryTasks(jobIds: string[], run: SlurmRunner = runSlurmCommand): Map<string, TaskState> {
  const states = new Map<string, TaskState>();
  if (jobIds.length === 0) return states;
  const wanted = new Set(jobIds);
  try {
    // sacct first: squeue, when it knows the job, is newer
    const acct = run('sacct', ['-n', '-P', '-X', '-j', jobIds.join(','), '-o', 'JobID,State']);
    for (const [key, s] of parseSacct(acct)) if (wanted.has(key.split('_')[0]!)) states.set(key, s);
  } catch {
    // no accounting storage: squeue alone
  }
  const queue = run('squeue', ['-h', '-t', 'all', '-o', '%F|%K|%i|%T|%r']);
  for (const [key, s] of parseSqueue(queue)) if (wanted.has(key.split('_')[0]!)) states.set(key, s);
  return states;
}

/** Expands an array task list such as `0-3,7,9-10` (a `%5` throttle suffix is dropped). */
export function expandTasks(list: string): number[] {
  const out: number[] = [];
  for (const part of list.replace(/%\d+$/, '').split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) continue;
    const a = Number(m[1]);
    const b = m[2] !== undefined ? Number(m[2]) : a;
    for (let i = a; i <= b; i++) out.push(i);
  }
  return out;
}

/** squeue -o '%F|%K|%i|%T|%r' lines as task keys: a pending array line stands for each of its tasks. */
export function parseSqueue(text: string): Map<string, TaskState> {
  const states = new Map<string, TaskState>();
  for (const line of text.split('\n')) {
    const [arrayJob, tasks, id, state, reason] = line.trim().split('|');
    if (!arrayJob || !state || !id) continue;
    const s = { state: state.replace(/\+$/, ''), reason: reason ?? '' };
    if (!tasks || tasks === 'N/A' || tasks === '(null)') states.set(id.split('_')[0]!, s);
    else for (const t of expandTasks(tasks.replace(/^\[|\]$/g, ''))) states.set(`${arrayJob}_${t}`, s);
  }
  return states;
}

/** sacct -n -P -X -o JobID,State lines (JobID `12_3`, `12_[4-7]` or `12`; State `CANCELLED by 0`). */
export function parseSacct(text: string): Map<string, TaskState> {
  const states = new Map<string, TaskState>();
  for (const line of text.split('\n')) {
    const [jobId, state] = line.trim().split('|');
    if (!jobId || !state) continue;
    const s = { state: state.split(' ')[0]!.replace(/\+$/, ''), reason: '' };
    const m = /^(\d+)_\[(.+)\]$/.exec(jobId);
    if (m) for (const t of expandTasks(m[2]!)) states.set(`${m[1]}_${t}`, s);
    else states.set(jobId, s);
  }
  return states;
}

/** Where each unit was last submitted: its job, task and log file. */
export interface UnitJob {
  round: number;
  jobId: string | null;
  task: number;
  log: string;
}

export function lastSubmission(jobs: SlurmJobsFile | null): Map<string, UnitJob> {
  const at = new Map<string, UnitJob>();
  for (const r of jobs?.rounds ?? [])
    for (const j of r.jobs) j.units.forEach((u, task) => at.set(u, { round: r.round, jobId: j.jobId, task, log: j.log.replace('%a', String(task)) }));
  return at;
}

/**
 * Submits a prepared study's unfinished units (or, with retryFailed, those that failed or
 * never ran). Returns the round written to slurm/jobs.json.
 */
export function submitStudy(prepared: PreparedStudy, o: SlurmOptions, progress: ProgressSink, run: SlurmRunner = runSlurmCommand): SlurmRound {
  checkOptions(o);
  const { out } = prepared;
  const plan = writePlanFile(prepared);
  const jobs = readJobsFile(out) ?? { version: 1, rounds: [] };
  if (jobs.rounds.length > 0 && !o.dryRun) settleEarlierRounds(out, jobs, o, progress, run);
  const todo = plan.units.filter((u) => !unitFinished(out, u));
  const round: SlurmRound = { round: jobs.rounds.length + 1, submitted: new Date().toISOString(), jobs: [] };
  const dir = join(out, 'slurm', `round-${round.round}`);
  const logs = join(out, 'slurm', 'logs');
  mkdirSync(dir, { recursive: true });
  mkdirSync(logs, { recursive: true });
  if (todo.length === 0) progress.line(`every unit of ${plan.study} has finished: only the report job is ${o.dryRun ? 'written' : 'submitted'}`);
  const name = (what: string) => `thtl-${plan.study.replace(/[^\w.-]+/g, '-').slice(0, 24)}-${what}`;
  const depsOf: string[] = [];
  const submit = (job: SlurmJob): void => {
    if (o.dryRun) return;
    const args = ['--parsable', ...(depsOf.length > 0 ? [`--dependency=afterok:${depsOf.join(':')}`] : []), job.script];
    job.jobId = run('sbatch', args).trim().split(';')[0]!;
    if (!/^\d+$/.test(job.jobId)) throw new Error(`sbatch answered ${JSON.stringify(job.jobId)} for ${job.script}, not a job id`);
  };
  // a dry run is not recorded: its scripts are the ones the next submission writes
  const record = () => {
    if (o.dryRun) return;
    jobs.rounds = [...jobs.rounds.filter((r) => r.round !== round.round), round];
    writeJsonAtomic(jobsPath(out), jobs);
  };
  const levelIds: string[] = [];
  for (let level = 0; level < plan.levels.length; level++) {
    const units = todo.filter((u) => u.level === level).map((u) => u.id);
    if (units.length === 0) continue;
    const job: SlurmJob = {
      level,
      jobId: null,
      script: join(dir, `level-${level}.sbatch`),
      units,
      log: join(logs, `round-${round.round}-level-${level}-%a.out`),
    };
    writeScript(job, { name: name(`L${level}`), units, log: job.log, cwd: plan.cwd, command: [...cliCommand(), 'run-unit', out], comment: `${plan.study}: round ${round.round}, dependency level ${level}, ${units.length} unit(s)` }, o);
    submit(job);
    round.jobs.push(job);
    record();
    if (job.jobId) levelIds.push(job.jobId);
    depsOf.splice(0, depsOf.length, ...levelIds);
    progress.line(`level ${level}: ${units.length} unit(s) as array 0-${units.length - 1}${job.jobId ? `, job ${job.jobId}` : ''} (${job.script})`);
  }
  const report: SlurmJob = { level: 'report', jobId: null, script: join(dir, 'report.sbatch'), units: [], log: join(logs, `round-${round.round}-report.out`) };
  writeScript(report, { name: name('report'), units: null, log: report.log, cwd: plan.cwd, command: [...cliCommand(), 'report', out], comment: `${plan.study}: round ${round.round}, the report once every unit has finished` }, { ...o, gpusPerTask: undefined, ...(o.reportPartition ? { partition: o.reportPartition } : {}) });
  submit(report);
  round.jobs.push(report);
  record();
  progress.line(`report: ${report.jobId ? `job ${report.jobId}, ` : ''}after every level (${report.script})`);
  progress.line(o.dryRun ? `dry run: nothing submitted; submit with the same command without --dry-run` : `follow it with: thtl-native status ${out}`);
  return round;
}

function writeScript(job: SlurmJob, spec: ScriptSpec, o: SlurmOptions): void {
  writeFileSync(job.script, sbatchScript(spec, o), { mode: 0o755 });
}

/**
 * Before a new submission: jobs of earlier rounds that wait on a failed dependency can never
 * run and are cancelled; any other job still queued or running means the study is already
 * under way (a first submission) or not yet ready to be retried.
 */
function settleEarlierRounds(out: string, jobs: SlurmJobsFile, o: SlurmOptions, progress: ProgressSink, run: SlurmRunner): void {
  const ids = jobs.rounds.flatMap((r) => r.jobs.map((j) => j.jobId).filter((id): id is string => id !== null));
  const states = queryTasks(ids, run);
  const doomed = new Set<string>();
  const active: string[] = [];
  for (const [key, s] of states) {
    if (!ACTIVE_STATES.has(s.state)) continue;
    if (s.state === 'PENDING' && /DependencyNeverSatisfied/.test(s.reason)) doomed.add(key.split('_')[0]!);
    else active.push(`${key} ${s.state}`);
  }
  if (active.length > 0) {
    const what = o.retryFailed ? '--retry-failed submits again once they have ended' : 'the study is already submitted';
    throw new Error(`${active.length} task(s) of this study are still queued or running (${active.slice(0, 6).join(', ')}${active.length > 6 ? ', ...' : ''}): ${what}; see thtl-native status ${out}, or scancel them first`);
  }
  if (!o.retryFailed)
    throw new Error(`the study in ${out} was submitted before (slurm/jobs.json) and no job of it is queued now: give --retry-failed to submit its unfinished units again`);
  for (const id of doomed) {
    run('scancel', [id]);
    progress.line(`cancelled job ${id}: it waited on a unit that failed, and is submitted again below`);
  }
}
