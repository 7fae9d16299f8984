// A one-node Slurm cluster of the test's own: munged, slurmctld and slurmd (Debian's
// 22.05) started as daemons with a config, ports, munge socket and state folders in a
// temp folder; no systemd, no cgroups (proctrack/linuxproc, task/none), no accounting
// daemon. Commands reach it through SLURM_CONF in `env`.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

import { tempDir } from './images.js';

export interface SlurmCluster {
  dir: string;
  /** the environment for sbatch, squeue, scancel and thtl-native: SLURM_CONF set */
  env: NodeJS.ProcessEnv;
  stop(): void;
}

const DAEMONS = ['munged', 'slurmctld', 'slurmd', 'sbatch', 'squeue', 'scancel', 'sinfo'];

function which(cmd: string): string | null {
  for (const d of ['/usr/sbin', '/usr/bin', '/sbin', '/bin', ...(process.env.PATH ?? '').split(':')]) if (d && existsSync(join(d, cmd))) return join(d, cmd);
  return null;
}

/** Why a cluster cannot be started here (missing programs, not root), or null. */
export function slurmUnavailable(): string | null {
  const missing = DAEMONS.filter((d) => !which(d));
  if (missing.length > 0) return `${missing.join(', ')} not installed (Debian: slurmctld slurmd slurm-client munge)`;
  if (process.getuid?.() !== 0) return 'slurmd runs the test jobs as root: run the tests as root';
  return null;
}

function killPidFile(path: string): void {
  try {
    process.kill(Number(readFileSync(path, 'utf8').trim()), 'SIGTERM');
  } catch {
    // not running
  }
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim().split('\n').slice(-5).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Starts the cluster and waits for its node to be idle; throws with the daemons' logs when it cannot. */
export async function startSlurm(): Promise<SlurmCluster> {
  const dir = tempDir('slurm');
  for (const d of ['state', 'spool', 'log', 'munge']) mkdirSync(join(dir, d), { recursive: true });
  chmodSync(join(dir, 'munge'), 0o700);
  const key = join(dir, 'munge', 'munge.key');
  writeFileSync(key, randomBytes(1024), { mode: 0o600 });
  const socket = join(dir, 'munge', 'munge.sock');
  const port = 20000 + Math.floor(Math.random() * 20000);
  const conf = join(dir, 'slurm.conf');
  writeFileSync(
    conf,
    [
      'ClusterName=thtltest',
      'SlurmctldHost=localhost',
      `SlurmctldPort=${port}`,
      `SlurmdPort=${port + 1}`,
      'AuthType=auth/munge',
      'CredType=cred/munge',
      `AuthInfo=socket=${socket}`,
      'SlurmUser=root',
      'SlurmdUser=root',
      `StateSaveLocation=${join(dir, 'state')}`,
      `SlurmdSpoolDir=${join(dir, 'spool')}`,
      `SlurmctldPidFile=${join(dir, 'slurmctld.pid')}`,
      `SlurmdPidFile=${join(dir, 'slurmd.pid')}`,
      `SlurmctldLogFile=${join(dir, 'log', 'slurmctld.log')}`,
      `SlurmdLogFile=${join(dir, 'log', 'slurmd.log')}`,
      'ProctrackType=proctrack/linuxproc',
      'TaskPlugin=task/none',
      'JobAcctGatherType=jobacct_gather/none',
      'AccountingStorageType=accounting_storage/none',
      'MailProg=/bin/true',
      'SchedulerType=sched/backfill',
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_Core',
      'ReturnToService=2',
      'MinJobAge=3600',
      `NodeName=localhost CPUs=${availableParallelism()} State=UNKNOWN`,
      'PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP',
      '',
    ].join('\n'),
  );
  const env = { ...process.env, SLURM_CONF: conf };
  const stop = () => {
    spawnSync(which('scancel')!, ['--full', '-u', 'root'], { env, stdio: 'ignore', timeout: 5000 });
    killPidFile(join(dir, 'slurmd.pid'));
    killPidFile(join(dir, 'slurmctld.pid'));
    killPidFile(join(dir, 'munge', 'munged.pid'));
  };
  try {
    const munge = join(dir, 'munge');
    execFileSync(which('munged')!, [`--socket=${socket}`, `--key-file=${key}`, `--pid-file=${join(munge, 'munged.pid')}`, `--log-file=${join(munge, 'munged.log')}`, `--seed-file=${join(munge, 'seed')}`, '--force'], { stdio: 'pipe' });
    execFileSync(which('slurmctld')!, ['-c', '-f', conf], { env, stdio: 'pipe' });
    execFileSync(which('slurmd')!, ['-N', 'localhost', '-f', conf], { env, stdio: 'pipe' });
    for (let i = 0; ; i++) {
      const r = spawnSync(which('sinfo')!, ['-h', '-o', '%T'], { env, encoding: 'utf8', timeout: 5000 });
      if (r.status === 0 && /^idle/m.test(r.stdout)) break;
      if (i > 100) throw new Error(`the node did not come up: sinfo says ${JSON.stringify((r.stdout || r.stderr).trim())}`);
      await new Promise((res) => setTimeout(res, 200));
    }
  } catch (err) {
    stop();
    throw new Error(
      `${(err as Error).message}\nslurmctld.log:\n${tail(join(dir, 'log', 'slurmctld.log'))}\nslurmd.log:\n${tail(join(dir, 'log', 'slurmd.log'))}\nmunged.log:\n${tail(join(dir, 'munge', 'munged.log'))}`,
    );
  }
  return { dir, env, stop };
}
