// Ctrl-C and `kill` (SIGINT, SIGTERM) for the long commands: the first signal aborts the
// run through its AbortSignal, so it stops after the current batch (or image) with every
// finished epoch and decoded image kept, and the run or study folder resumable; a second
// signal ends the process at once.
export interface Interrupt {
  signal: AbortSignal;
  /** The signal that aborted the run, or null. */
  received(): NodeJS.Signals | null;
  /** Stops listening (the command is over). */
  done(): void;
}

export function onInterrupt(): Interrupt {
  const controller = new AbortController();
  let got: NodeJS.Signals | null = null;
  const handler = (sig: NodeJS.Signals) => {
    if (got) {
      process.stderr.write(`\nthtl-native: ${sig} again: stopping now\n`);
      process.exit(128 + (sig === 'SIGINT' ? 2 : 15));
    }
    got = sig;
    process.stderr.write(`\nthtl-native: ${sig} received: stopping after the current step (${sig} again to stop at once)\n`);
    controller.abort();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    received: () => got,
    done: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

/** Runs a long command with `onInterrupt`; an interrupted run exits 130 (SIGINT) or 143 (SIGTERM) saying how to resume. */
export async function interruptible<T>(resumeHint: string, run: (signal: AbortSignal) => Promise<T>): Promise<T | undefined> {
  const interrupt = onInterrupt();
  try {
    return await run(interrupt.signal);
  } catch (err) {
    const sig = interrupt.received();
    if (!sig || (err as Error).name !== 'AbortError') throw err;
    process.stderr.write(`thtl-native: interrupted (${sig}); everything finished so far is kept: ${resumeHint}\n`);
    process.exitCode = 128 + (sig === 'SIGINT' ? 2 : 15);
    return undefined;
  } finally {
    interrupt.done();
  }
}
