// Option value parsers shared by the commands (commander calls them with the raw text).
import { InvalidArgumentError } from 'commander';

/** An integer option; `nonNegative` also refuses values below 0. */
export function int(name: string, nonNegative = false) {
  return (value: string): number => {
    const n = Number(value);
    if (nonNegative && !(Number.isInteger(n) && n >= 0)) throw new InvalidArgumentError(`${name} must be a non-negative integer, got '${value}'`);
    if (!Number.isInteger(n)) throw new InvalidArgumentError(`${name} must be an integer, got '${value}'`);
    return n;
  };
}

/** A comma-separated list; blanks dropped. */
export function list(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter(Boolean);
}
