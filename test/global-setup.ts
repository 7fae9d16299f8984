// Every temporary file the tests make goes under one folder per test run, removed at the
// end: test helpers, child processes and the addon all use os.tmpdir(), which follows
// TMPDIR. (Left in /tmp, a full run's run folders, weight files and checkpoints take
// several GB.)
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

export function setup(): void {
  root = mkdtempSync(join(tmpdir(), 'thtl-tests-'));
  process.env.TMPDIR = root; // test workers are started after this, and inherit it
  // The test build of the addon (release addon + test hooks) when there is one, for every
  // test and the CLI processes they start; THTL_ADDON, when set, wins.
  const testAddon = join(dirname(fileURLToPath(import.meta.url)), '..', 'build', 'Test', 'thtl_native_test.node');
  if (!process.env.THTL_ADDON && existsSync(testAddon)) process.env.THTL_ADDON = testAddon;
}

export function teardown(): void {
  if (root) rmSync(root, { recursive: true, force: true });
}
