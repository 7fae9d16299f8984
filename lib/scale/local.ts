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
import { formatDuration, type ProgressEvent, type ProgressSink } from '../util/progress.js';
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

/** Outcomes of ended children, in the order they ended; `next()` waits for one. */
class OutcomeQueue {
  private readonly outcomes: Outcome[] = [];
  private settle: (() => void) | null = null;

  deliver(o: Outcome): void {
    this.outcomes.push(o);
    this.settle?.();
  }

  next(): Promise<Outcome> {
    return new Promise<Outcome>((res) => {
      const take = () => {
        this.settle = null;
        res(this.outcomes.shift()!);
      };
      if (this.outcomes.length > 0) take();
      else this.settle = take;
    });
  }
}

/** What starting a child needs, and the children running (slot -> child). */
interface Pool {
  out: string;
  logs: string;
  threads: number;
  gpus: string[] | undefined;
  total: number;
  started: number;
  running: Map<number, Running>;
  outcomes: OutcomeQueue;
  progress: ProgressSink;
}

/** Starts `thtl-native run-unit` for the unit in the slot; its end is delivered to the pool's outcomes. */
function startChild(pool: Pool, unit: PlanUnit, slot: number): void {
  const { gpus, progress } = pool;
  pool.started++;
  const tag = `[${pool.started}/${pool.total}] ${unit.id}`;
  progress.line(`${tag}: started${gpus ? ` on GPU ${gpus[slot]}` : ''}`);
  // with events wanted here, the child writes its own as JSON lines on stdout (run-unit --json)
  const json = progress.event !== undefined;
  const args = [...cliCommand().slice(1), 'run-unit', pool.out, unit.id, '--threads', String(pool.threads), ...(gpus ? ['--device', 'cuda'] : []), ...(json ? ['--json'] : [])];
  const env = { ...process.env, ...(gpus ? { CUDA_VISIBLE_DEVICES: gpus[slot]! } : {}) };
  // its own process group: a terminal's Ctrl-C reaches this process only, which passes it on once
  const child = spawn(process.execPath, args, { cwd: process.cwd(), env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(join(pool.logs, `${unit.id}.log`), { flags: 'a' });
  log.write(`# ${new Date().toISOString()} ${[process.execPath, ...args].join(' ')}\n`);
  for (const stream of [child.stdout!, child.stderr!])
    createInterface({ input: stream }).on('line', (line) => {
      log.write(`${line}\n`);
      const event = json && stream === child.stdout ? childEvent(line) : null;
      if (!event) progress.line(`${unit.id} ${line}`);
      else if (event.event === 'epoch') progress.event!({ ...event, unit: unit.id });
      // the child's result: its unit event comes from here once it has exited
    });
  const r: Running = { unit, child, log, slot, started: Date.now() };
  pool.running.set(slot, r);
  watchExit(pool, r);
}

/** An event line of `run-unit --json`'s stdout, or null for any other line. */
function childEvent(line: string): ProgressEvent | null {
  if (!line.startsWith('{"event":')) return null;
  try {
    return JSON.parse(line) as ProgressEvent;
  } catch {
    return null;
  }
}

/** Delivers the child's end once: its exit, or its failure to start (as code 127). */
function watchExit(pool: Pool, r: Running): void {
  let ended = false;
  const end = (code: number | null, signal: NodeJS.Signals | null) => {
    if (ended) return;
    ended = true;
    pool.running.delete(r.slot);
    r.log.end();
    pool.outcomes.deliver({ unit: r.unit, code, signal, seconds: (Date.now() - r.started) / 1000 });
  };
  r.child.on('error', (err) => {
    r.log.write(`cannot start ${process.execPath}: ${err.message}\n`);
    end(127, null);
  });
  r.child.on('close', end);
}

/**
 * Passes an abort (Ctrl-C, SIGTERM) on once to every child, which stops after its current
 * batch, and kills them when this process ends at once (a second Ctrl-C). `detach` undoes it.
 */
function passInterrupts(pool: Pool, signal: AbortSignal | undefined): { aborted: () => boolean; detach: () => void } {
  let aborted = false;
  const stopAll = (sig: NodeJS.Signals) => {
    for (const r of pool.running.values()) r.child.kill(sig);
  };
  const onAbort = () => {
    aborted = true;
    pool.progress.line(`stopping ${pool.running.size} running unit(s) after their current batch`);
    stopAll('SIGTERM');
  };
  const onExit = () => stopAll('SIGKILL'); // this process is ending at once (a second Ctrl-C)
  signal?.addEventListener('abort', onAbort, { once: true });
  process.on('exit', onExit);
  return {
    aborted: () => aborted,
    detach: () => {
      signal?.removeEventListener('abort', onAbort);
      process.off('exit', onExit);
    },
  };
}

/** Units that can never start (a dependency failed) leave `pending` for `failed`, each with its unit event. */
function passOverBlocked(pending: PlanUnit[], failed: Map<string, string>, progress: ProgressSink): void {
  for (let i = pending.length - 1; i >= 0; i--)
    if (pending[i]!.dependsOn.some((d) => failed.has(d))) {
      const u = pending.splice(i, 1)[0]!;
      failed.set(u.id, `not started: ${u.dependsOn.find((d) => failed.has(d))} failed`);
      progress.event?.({ event: 'unit', unit: u.id, status: 'failed', dir: u.dir, seconds: 0, error: failed.get(u.id)! });
    }
}

/** Starts ready units (all they start from finished) in the free slots. */
function fillSlots(pool: Pool, workers: number, pending: PlanUnit[], finished: Set<string>): void {
  while (pool.running.size < workers) {
    const i = pending.findIndex((u) => u.dependsOn.every((d) => finished.has(d)));
    if (i < 0) break;
    const slot = [...Array(workers).keys()].find((s) => !pool.running.has(s))!;
    startChild(pool, pending.splice(i, 1)[0]!, slot);
  }
}

/** The worker count: one per GPU id, else --workers. */
function workerCount(opts: LocalOptions): number {
  const gpus = opts.gpus;
  if (gpus && gpus.length === 0) throw new Error('--gpus needs at least one GPU id');
  const workers = gpus ? gpus.length : opts.workers;
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`--workers must be a positive integer, got ${workers}`);
  return workers;
}

export async function runUnitsLocally(prepared: PreparedStudy, opts: LocalOptions, progress: ProgressSink): Promise<void> {
  const { out, cfg } = prepared;
  const gpus = opts.gpus;
  const workers = workerCount(opts);
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
  for (const u of plan.units) if (finished.has(u.id)) progress.event?.({ event: 'unit', unit: u.id, status: 'reused', dir: u.dir, seconds: 0 });
  if (cfg.recipe.threads === 0 && workers > 1)
    progress.line(`(results depend on the thread count: for tables identical to a run in one process, give --threads ${threads} to both)`);

  const pool: Pool = { out, logs, threads, gpus, total, started: 0, running: new Map(), outcomes: new OutcomeQueue(), progress };
  const t0 = Date.now();
  const interrupts = passInterrupts(pool, opts.signal);
  try {
    while (true) {
      passOverBlocked(pending, failed, progress);
      if (!interrupts.aborted()) fillSlots(pool, workers, pending, finished);
      if (pool.running.size === 0) break;
      const o = await pool.outcomes.next();
      const tag = `${o.unit.id}`;
      if (o.code === 0) {
        finished.add(o.unit.id);
        progress.event?.({ event: 'unit', unit: o.unit.id, status: 'finished', dir: o.unit.dir, seconds: o.seconds });
        progress.line(`${tag}: finished in ${formatDuration(o.seconds)} (${finished.size}/${plan.units.length} done, elapsed ${formatDuration((Date.now() - t0) / 1000)})`);
      } else {
        const how = o.signal ? `was killed by ${o.signal}` : `exited with code ${o.code}`;
        failed.set(o.unit.id, `${how}; log: ${join(logs, `${o.unit.id}.log`)}`);
        if (!interrupts.aborted()) progress.event?.({ event: 'unit', unit: o.unit.id, status: 'failed', dir: o.unit.dir, seconds: o.seconds, error: failed.get(o.unit.id)! });
        if (!interrupts.aborted()) progress.line(`${tag}: FAILED, ${how} (log: ${join(logs, `${o.unit.id}.log`)})`);
      }
    }
  } finally {
    interrupts.detach();
  }
  if (interrupts.aborted()) throw abortError();
  if (failed.size > 0) {
    // the list goes to the progress lines; the error itself is one line
    for (const [id, why] of failed) progress.line(`did not finish: ${id}: ${why}`);
    const [firstId, firstWhy] = [...failed][0]!;
    throw new Error(
      `${failed.size} unit(s) did not finish (${firstId}: ${firstWhy}${failed.size > 1 ? '; the others are listed above' : ''}); ` +
        'finished units are kept: run the same command with --resume to retry the others',
    );
  }
}
