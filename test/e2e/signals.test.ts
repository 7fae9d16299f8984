// Ctrl-C and `kill` during `train`: the run stops within 2 s, after the current batch,
// exits 130 (SIGINT) or 143 (SIGTERM) saying how to go on, and `--resume` then ends with
// exactly the epochs of an uninterrupted run.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { runProcess } from '../helpers/process.js';
import { ROOT } from '../helpers/python.js';
import { tempDir, vesselFolder } from '../helpers/images.js';

const BIN = join(ROOT, 'bin', 'thtl-native.js');
const TINY = ['--model', 'resnet18', '--epochs', '3', '--input-size', '32', '--batch-size', '4', '--device', 'cpu', '--no-cache', '--patience', '10'];

/** Starts `train`, sends `sig` once the first epoch is reported; resolves with the exit and how long the stop took. */
function interrupted(args: string[], sig: NodeJS.Signals): Promise<{ code: number | null; stderr: string; stopMs: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stderr = '';
    let sentAt = 0;
    const watch = (d: string) => {
      out += d;
      if (!sentAt && /epoch +1 /.test(out)) {
        sentAt = Date.now();
        child.kill(sig);
      }
    };
    child.stdout.setEncoding('utf8').on('data', watch);
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      watch(d);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr, stopMs: sentAt ? Date.now() - sentAt : -1 }));
  });
}

const epochs = (run: string) =>
  readFileSync(join(run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => {
      const { seconds, ...rest } = JSON.parse(l) as Record<string, unknown>;
      return rest;
    });

describe('signals', () => {
  const data = vesselFolder(16, 48);
  let reference: Record<string, unknown>[] = [];

  it('an uninterrupted run, for reference', async () => {
    const out = join(tempDir('sig-ref'), 'run');
    const r = await runProcess(process.execPath, [BIN, 'train', '--data', data, '--out', out, ...TINY]);
    expect(r.code, r.stderr).toBe(0);
    reference = epochs(out);
    expect(reference).toHaveLength(3);
  });

  for (const [sig, code] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
    it(`${sig}: stops within 2 s after the current batch, exits ${code}, and --resume ends like the uninterrupted run`, async () => {
      const out = join(tempDir(`sig-${sig}`), 'run');
      const r = await interrupted(['train', '--data', data, '--out', out, ...TINY], sig);
      expect(r.code, r.stderr).toBe(code);
      expect(r.stopMs).toBeGreaterThanOrEqual(0);
      expect(r.stopMs).toBeLessThan(2000);
      expect(r.stderr).toMatch(new RegExp(`${sig} received: stopping after the current step`));
      expect(r.stderr).toMatch(new RegExp(`interrupted \\(${sig}\\).*--resume`));
      const resumed = await runProcess(process.execPath, [BIN, 'train', '--data', data, '--out', out, ...TINY, '--resume']);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.stdout + resumed.stderr).toMatch(/resuming .* after epoch [12] /);
      expect(epochs(out)).toEqual(reference);
    });
  }
});
