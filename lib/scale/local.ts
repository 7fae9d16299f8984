// The local executor: a study's units in parallel child processes on one machine
// (`--executor local --workers N`, or `--gpus 0,1,2,3`: one worker per GPU, each child
// seeing only its own through CUDA_VISIBLE_DEVICES). A unit starts once the unit it
// starts from has finished. Each child is `thtl-native run-unit`, with its output in
// <study>/logs/<unit>.log and echoed here. Ctrl-C (or SIGTERM) is passed on once to every
// child, which stops after its current batch; the study stays resumable.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import type { PreparedStudy } from '../experiment/prepare.js';
import { formatDuration, type ProgressSink } from '../util/progress.js';
import { cliCommand, unitFinished, writePlanFile, type PlanUnit } from './plan-file.js';

export interface LocalOptions {
  workers: number;
  /** GPU ids: one worker per id */
  gpus?: string[];
  signal?: AbortSignal;
}

/** Threads of each worker: the recipe's when set, else the machine's cores shared out. */
export function workerThreads(recipeThreads: number, workers: number, cores = availableParallelism()): number {
  return recipeThreads > 0 ? recipeThreads : Math.max(1, Math.floor(cores / workers));
}

interface Running {
  unit: PlanUnit;
  child: ChildProcess;
  log: WriteStream;
  slot: number;
  started: number;
}

type Outcome = { unit: PlanUnit; code: number | null; signal: NodeJS.Signals | null; seconds: number };

function abortError(): Error {
  return new DOMException('the study was interrupted', 'AbortError');
}

export async function runUnitsLocally(prepared: PreparedStudy, opts: LocalOptions, progress: ProgressSink): Promise<void> {
  const { out, cfg } = prepared;
  const gpus = opts.gpus;
  if (gpus && gpus.length === 0) throw new Error('--gpus needs at least one GPU id');
  const workers = gpus ? gpus.length : opts.workers;
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`--workers must be a positive integer, got ${workers}`);
  const threads = workerThreads(cfg.recipe.threads, workers);
  const plan = writePlanFile(prepared);
  const logs = join(out, 'logs');
  mkdirSync(logs, { recursive: true });

  const finished = new Set(plan.units.filter((u) => unitFinished(out, u)).map((u) => u.id));
  const failed = new Map<string, string>(); // unit id -> why
  const pending = plan.units.filter((u) => !finished.has(u.id));
  const total = pending.length;
  progress.line(
    `local executor: ${workers} worker(s)${gpus ? ` on GPU ${gpus.join(', ')}` : ''}, ${threads} thread(s) each, ` +
      `${total} unit(s) to run${finished.size > 0 ? ` (${finished.size} finished before)` : ''}; logs in ${logs}`,
  );
  if (cfg.recipe.threads === 0 && workers > 1)
    progress.line(`(results depend on the thread count: for tables identical to a run in one process, give --threads ${threads} to both)`);

  const running = new Map<number, Running>(); // slot -> child
  const t0 = Date.now();
  let started = 0;
  let aborted = false;
  let settle: (() => void) | null = null;
  const outcomes: Outcome[] = [];
  const deliver = (o: Outcome) => {
    outcomes.push(o);
    settle?.();
  };
  const nextOutcome = () =>
    new Promise<Outcome>((res) => {
      const take = () => {
        settle = null;
        res(outcomes.shift()!);
      };
      if (outcomes.length > 0) take();
      else settle = take;
    });

  const stopAll = (sig: NodeJS.Signals) => {
    for (const r of running.values()) r.child.kill(sig);
  };
  const onAbort = () => {
    aborted = true;
    progress.line(`stopping ${running.size} running unit(s) after their current batch`);
    stopAll('SIGTERM');
  };
  const onExit = () => stopAll('SIGKILL'); // this process is ending at once (a second Ctrl-C)
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  process.on('exit', onExit);

  const start = (unit: PlanUnit, slot: number) => {
    started++;
    const tag = `[${started}/${total}] ${unit.id}`;
    progress.line(`${tag}: started${gpus ? ` on GPU ${gpus[slot]}` : ''}`);
    const args = [...cliCommand().slice(1), 'run-unit', out, unit.id, '--threads', String(threads), ...(gpus ? ['--device', 'cuda'] : [])];
    const env = { ...process.env, ...(gpus ? { CUDA_VISIBLE_DEVICES: gpus[slot]! } : {}) };
    // its own process group: a terminal's Ctrl-C reaches this process only, which passes it on once
    const child = spawn(process.execPath, args, { cwd: process.cwd(), env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const log = createWriteStream(join(logs, `${unit.id}.log`), { flags: 'a' });
    log.write(`# ${new Date().toISOString()} ${[process.execPath, ...args].join(' ')}\n`);
    for (const stream of [child.stdout!, child.stderr!])
      createInterface({ input: stream }).on('line', (line) => {
        log.write(`${line}\n`);
        progress.line(`${unit.id} ${line}`);
      });
    const r: Running = { unit, child, log, slot, started: Date.now() };
    running.set(slot, r);
    let ended = false;
    const end = (code: number | null, signal: NodeJS.Signals | null) => {
      if (ended) return;
      ended = true;
      running.delete(slot);
      log.end();
      deliver({ unit, code, signal, seconds: (Date.now() - r.started) / 1000 });
    };
    child.on('error', (err) => {
      log.write(`cannot start ${process.execPath}: ${err.message}\n`);
      end(127, null);
    });
    child.on('close', end);
  };

  const ready = (u: PlanUnit) => u.dependsOn.every((d) => finished.has(d));
  const blocked = (u: PlanUnit) => u.dependsOn.some((d) => failed.has(d));
  try {
    while (true) {
      // units that can never start (a dependency failed) are passed over
      for (let i = pending.length - 1; i >= 0; i--)
        if (blocked(pending[i]!)) {
          const u = pending.splice(i, 1)[0]!;
          failed.set(u.id, `not started: ${u.dependsOn.find((d) => failed.has(d))} failed`);
        }
      while (!aborted && running.size < workers) {
        const i = pending.findIndex(ready);
        if (i < 0) break;
        const slot = [...Array(workers).keys()].find((s) => !running.has(s))!;
        start(pending.splice(i, 1)[0]!, slot);
      }
      if (running.size === 0) break;
      const o = await nextOutcome();
      const tag = `${o.unit.id}`;
      if (o.code === 0) {
        finished.add(o.unit.id);
        progress.line(`${tag}: finished in ${formatDuration(o.seconds)} (${finished.size}/${plan.units.length} done, elapsed ${formatDuration((Date.now() - t0) / 1000)})`);
      } else {
        const how = o.signal ? `was killed by ${o.signal}` : `exited with code ${o.code}`;
        failed.set(o.unit.id, `${how}; log: ${join(logs, `${o.unit.id}.log`)}`);
        if (!aborted) progress.line(`${tag}: FAILED, ${how} (log: ${join(logs, `${o.unit.id}.log`)})`);
      }
    }
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    process.off('exit', onExit);
  }
  if (aborted) throw abortError();
  if (failed.size > 0) {
    const lines = [...failed].map(([id, why]) => `  ${id}: ${why}`);
    throw new Error(`${failed.size} unit(s) did not finish:\n${lines.join('\n')}\nfinished units are kept: run the same command again to retry the others`);
  }
}
