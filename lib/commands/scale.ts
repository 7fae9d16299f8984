// Scale-out on the command line: the --executor flags of `experiment` and `reproduce`,
// and the `run-unit` and `status` commands (lib/scale/).
import { Command, Option } from 'commander';

import { interruptible } from '../util/interrupt.js';
import { commandProgress } from '../util/progress.js';
import type { PlanFile } from '../scale/plan-file.js';
import { runUnit } from '../scale/run-unit.js';
import type { SlurmOptions } from '../scale/slurm.js';
import { formatStatus, studyStatus } from '../scale/status.js';
import { list, nonNegativeInt, positiveInt } from './options.js';
import { UsageError } from './usage.js';
import { resolveDevice } from '../train/runner.js';
import { trainResultEvent } from './output.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** --executor and its settings, for the study commands. */
export function executorFlags(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--executor <kind>', 'how units run: sequential (one after another, in this process), local (parallel child processes), slurm (job arrays)').choices([
        'sequential',
        'local',
        'slurm',
      ]),
    )
    .option('--workers <n>', 'local: units run at once (CPU)', positiveInt('--workers'))
    .option('--gpus <list>', 'local: GPU ids, one worker each, pinned with CUDA_VISIBLE_DEVICES (e.g. 0,1,2,3)', list)
    .option('--partition <name>', 'slurm: partition')
    .option('--report-partition <name>', 'slurm: partition of the report job, which needs no GPU (default: --partition)')
    .option('--gpus-per-task <n>', 'slurm: GPUs of each array task', positiveInt('--gpus-per-task'))
    .option('--cpus-per-task <n>', 'slurm: CPUs of each array task', positiveInt('--cpus-per-task'))
    .option('--time <limit>', 'slurm: time limit of each task (e.g. 8:00:00)')
    .option('--sbatch-arg <option>', 'slurm: one more sbatch option, e.g. --sbatch-arg=--account=proj (repeatable)', collect)
    .option('--dry-run', 'slurm: write the sbatch scripts without submitting them', false)
    .option('--retry-failed', 'slurm: submit again the units that failed or never ran', false);
}

export type ExecutorChoice =
  | { kind: 'sequential' | 'local'; local: { workers?: number; gpus?: string[] } }
  | { kind: 'slurm'; slurm: SlurmOptions };

const SLURM_FLAGS = ['partition', 'reportPartition', 'gpusPerTask', 'cpusPerTask', 'time', 'sbatchArg'] as const;
const flagName = (k: string) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** The executor the flags ask for; flags of another executor are an error. */
export function executorChoice(o: Record<string, unknown>): ExecutorChoice {
  const local = o.workers !== undefined || o.gpus !== undefined;
  const kind = (o.executor as ExecutorChoice['kind'] | undefined) ?? (local ? 'local' : 'sequential');
  const slurmOnly = [...SLURM_FLAGS.filter((k) => o[k] !== undefined), ...(['dryRun', 'retryFailed'] as const).filter((k) => o[k] === true)];
  if (kind !== 'slurm' && slurmOnly.length > 0) throw new UsageError(`${slurmOnly.map(flagName).join(', ')} need --executor slurm`);
  if (kind === 'slurm') {
    if (local) throw new UsageError('--workers and --gpus are for --executor local; with Slurm give --gpus-per-task');
    return {
      kind,
      slurm: {
        ...(o.partition !== undefined ? { partition: o.partition as string } : {}),
        ...(o.reportPartition !== undefined ? { reportPartition: o.reportPartition as string } : {}),
        ...(o.gpusPerTask !== undefined ? { gpusPerTask: o.gpusPerTask as number } : {}),
        ...(o.cpusPerTask !== undefined ? { cpusPerTask: o.cpusPerTask as number } : {}),
        ...(o.time !== undefined ? { time: o.time as string } : {}),
        sbatchArgs: (o.sbatchArg as string[] | undefined) ?? [],
        dryRun: o.dryRun === true,
        retryFailed: o.retryFailed === true,
      },
    };
  }
  if (kind === 'sequential' && local) throw new UsageError('--workers and --gpus need --executor local');
  return { kind, local: { ...(o.workers !== undefined ? { workers: o.workers as number } : kind === 'local' ? { workers: 1 } : {}), ...(o.gpus ? { gpus: o.gpus as string[] } : {}) } };
}

/** Every id of --gpus names a GPU this machine has; else one line, before any unit starts. */
export function checkGpus(ids: string[]): void {
  if (ids.length === 0) throw new UsageError('--gpus needs at least one GPU id, like 0,1');
  for (const id of ids) {
    if (!/^\d+$/.test(id)) throw new UsageError(`--gpus takes GPU ids (0,1,...), got '${id}'`);
    try {
      resolveDevice(`cuda:${id}`);
    } catch (err) {
      throw new UsageError(`--gpus ${ids.join(',')}: ${(err as Error).message}`);
    }
  }
}

/** plan.json in a few lines: the units by level. */
export function formatPlan(plan: PlanFile): string {
  const lines = [`${plan.study}: ${plan.units.length} unit(s) in ${plan.levels.length} dependency level(s) -> ${plan.dir}/plan.json`];
  plan.levels.forEach((ids, k) => lines.push(`  level ${k}: ${ids.length} unit(s)${k > 0 ? ' (each after the unit it starts from)' : ''}: ${ids.slice(0, 6).join(', ')}${ids.length > 6 ? ', ...' : ''}`));
  lines.push(`run one with: thtl-native run-unit ${plan.dir} <unit>`);
  return lines.join('\n');
}

export function registerScaleCommands(program: Command): void {
  program
    .command('run-unit')
    .description('run one training unit of a planned study (see `thtl-native plan`) into its study folder; safe alongside other processes')
    .argument('<dir>', 'study folder')
    .argument('<unit>', 'unit id as in plan.json (<model>.run-<r>.<unit>) or its run folder (runs/<model>/run-<r>/<unit>)')
    .option('--threads <n>', 'CPU threads of this process (0: all cores); default: the study recipe', nonNegativeInt('--threads'))
    .option('--device <dev>', "device of this process (cpu, cuda, cuda:1); default: the study recipe")
    .option('--json', 'stdout: one JSON object per line per event (epoch, result) and nothing else', false)
    .action(async (dir: string, unit: string, o: { threads?: number; device?: string; json: boolean }) => {
      const progress = commandProgress({ json: o.json });
      const r = await interruptible(`run the same command again to go on from the unit's last finished epoch`, (signal) =>
        runUnit(dir, unit, { ...(o.threads !== undefined ? { threads: o.threads } : {}), ...(o.device ? { device: o.device } : {}) }, progress, { signal }),
      );
      if (r && o.json) progress.event?.(trainResultEvent(r));
      else if (r) process.stdout.write(`${unit}: ${r.reused ? 'had finished before' : `finished after ${r.epochsRun} epoch(s)`} (${r.dir})\n`);
    });

  program
    .command('status')
    .description("each unit's state in a study folder: done, running, queued, failed (with its log), interrupted or not started")
    .argument('<dir>', 'study folder')
    .option('--json', 'print JSON', false)
    .action((dir: string, o: { json: boolean }) => {
      const s = studyStatus(dir);
      process.stdout.write(o.json ? `${JSON.stringify(s, null, 2)}\n` : `${formatStatus(s)}\n`);
    });
}
