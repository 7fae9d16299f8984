// Usage errors: a command line that cannot run as given (options that contradict each
// other, a required option missing). The CLI prints them as one line, with a hint to the
// command's help, and exits with code 2, as commander's own parse errors do; every other
// failure exits with code 1.
import type { Command } from 'commander';

export class UsageError extends Error {
  override name = 'UsageError';
}

/** A usage error naming two flags that cannot be given together, and why. */
export function conflict(a: string, b: string, why: string): UsageError {
  return new UsageError(`${a} and ${b} cannot go together: ${why}`);
}

/** Whether the user gave flag `attribute` (commander's attribute name) on the command line, rather than it taking its default. */
export function given(cmd: Command, attribute: string): boolean {
  const source = cmd.getOptionValueSource(attribute);
  return source !== undefined && source !== 'default' && source !== 'implied';
}
