// Every temporary file the tests make goes under one folder per test run, removed at the
// end: test helpers, child processes and the addon all use os.tmpdir(), which follows
// TMPDIR. (Left in /tmp, a full run's run folders, weight files and checkpoints take
// several GB.)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let root: string | undefined;

export function setup(): void {
  root = mkdtempSync(join(tmpdir(), 'thtl-tests-'));
  process.env.TMPDIR = root; // test workers are started after this, and inherit it
}

export function teardown(): void {
  if (root) rmSync(root, { recursive: true, force: true });
}
