// Runs one command group of the CLI in this process, its stdout captured: for tests of a
// command's output and errors without a child process.
import { Command } from 'commander';
import { vi } from 'vitest';

/** Runs `thtl-native <args>` with only the commands `register` adds; returns stdout (and help text) and the error thrown, if any. */
export async function captureCommand(register: (program: Command) => unknown, args: string[]): Promise<{ out: string; error: unknown }> {
  const out: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => out.push(String(chunk)) > 0);
  let error: unknown;
  try {
    const program = new Command('thtl-native').exitOverride().configureOutput({ writeErr: () => undefined, writeOut: (s) => void out.push(s) });
    register(program);
    await program.parseAsync(args, { from: 'user' });
  } catch (err) {
    error = err;
  } finally {
    spy.mockRestore();
  }
  return { out: out.join(''), error };
}
