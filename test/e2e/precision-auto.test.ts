// `train --precision auto` end to end on this machine's CPU: the run's config.json keeps what
// auto chose (precision, channelsLast) and precisionRequested 'auto', the log says what and
// why, and `train --resume --precision auto` goes on with the run's own choice. Real CLI,
// resnet18 and mobilenet_v2 at 32 px, one epoch.
import { cpSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

import { native } from '../../binding/index.js';
import { cpuFlags } from '../../lib/train/precision.js';
import { runProcess, type ProcessResult } from '../helpers/process.js';
import { ROOT } from '../helpers/python.js';
import { tempDir, vesselFolder } from '../helpers/images.js';

const BIN = join(ROOT, 'bin', 'thtl-native.js');
const TINY = ['--epochs', '1', '--input-size', '32', '--batch-size', '8', '--device', 'cpu', '--threads', '1', '--no-cache'];

function cli(args: string[]): Promise<ProcessResult> {
  return runProcess(process.execPath, [BIN, ...args]);
}

type StoredConfig = { precision: string; channelsLast: boolean; precisionRequested?: string; identity: Record<string, unknown> };
const config = (run: string): StoredConfig => JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as StoredConfig;

// what auto must pick for a convolutional model on this CPU (Linux flags; elsewhere fp32)
const flags = cpuFlags() ?? [];
const fastBf16 = flags.includes('avx512_bf16') || flags.includes('amx_bf16');
const libtorch1 = native().info().torchVersion.startsWith('1.');

let data: string;
let run: string;

beforeAll(async () => {
  data = vesselFolder(15, 40);
  run = join(tempDir('auto'), 'run');
  const r = await cli(['train', '--model', 'resnet18', '--data', data, '--out', run, ...TINY, '--precision', 'auto']);
  expect(r.code, r.stderr).toBe(0);
}, 300_000);

describe('train --precision auto', () => {
  it('records what it used and that auto chose it; the log says what and why', () => {
    const cfg = config(run);
    expect(cfg.precisionRequested).toBe('auto');
    if (fastBf16) {
      expect(cfg).toMatchObject({ precision: 'bf16', channelsLast: true });
      expect(cfg.identity).toMatchObject({ precision: 'bf16', channelsLast: true });
    } else {
      expect(cfg).toMatchObject({ precision: 'fp32', channelsLast: false });
      expect(cfg.identity).not.toHaveProperty('precision');
    }
    expect(readFileSync(join(run, 'model-card.md'), 'utf8')).toContain('(chosen by precision auto for the model and machine)');
  });

  it('logs its choice; mobilenet_v2 on LibTorch 1.x takes fp32 (its bfloat16 kernels are missing there)', async () => {
    const out = join(tempDir('auto-mobilenet'), 'run');
    const r = await cli(['train', '--model', 'mobilenet_v2', '--data', data, '--out', out, ...TINY, '--precision', 'auto']);
    expect(r.code, r.stderr).toBe(0);
    const bf16 = fastBf16 && !libtorch1;
    expect(config(out)).toMatchObject({ precision: bf16 ? 'bf16' : 'fp32', channelsLast: bf16, precisionRequested: 'auto' });
    if (fastBf16) expect(r.stderr).toMatch(libtorch1 ? /^precision auto: fp32 \(CPU has (AVX-512 BF16|AMX-BF16), but LibTorch 1\.\S+ lacks bfloat16 kernels mobilenet_v2 trains with\)$/m : /^precision auto: bf16 \+ channels_last/m);
    else expect(r.stderr).toMatch(/^precision auto: fp32 \(/m);
  });

  it('--resume --precision auto goes on with what auto chose when the run started; another precision is refused', async () => {
    const before = config(run);
    // a finished run is reused
    const same = await cli(['train', '--out', run, '--resume', '--precision', 'auto']);
    expect(same.code, same.stderr).toBe(0);
    expect(same.stderr).toMatch(/finished before, reusing its results/);
    // an interrupted one (killed before its test) goes on with the same precision, still recorded as auto's
    const partial = join(tempDir('auto-resume'), 'run');
    cpSync(run, partial, { recursive: true });
    for (const f of ['final.json', 'weights.safetensors', 'predictions.csv']) rmSync(join(partial, f));
    const resumed = await cli(['train', '--out', partial, '--resume', '--precision', 'auto']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/^precision auto: .* \(as when the run started\)$/m);
    expect(resumed.stderr).toMatch(/resuming \S+ after epoch 1/);
    const after = config(partial);
    expect(after).toMatchObject({ precision: before.precision, channelsLast: before.channelsLast, precisionRequested: 'auto', identity: before.identity });
    // without --precision the run's own request (auto) stands
    const plain = await cli(['train', '--out', partial, '--resume']);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stderr).toMatch(/as when the run started/);
    // a precision other than the one auto chose would change the run
    const other = before.precision === 'bf16' ? 'fp32' : 'bf16';
    const refused = await cli(['train', '--out', run, '--resume', '--precision', other]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(new RegExp(`^thtl-native: --precision: the run has '${before.precision}', you gave '${other}'`));
  });
});
