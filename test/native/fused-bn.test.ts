// The fused batch-norm + activation kernels (src-native/nn/bn_act.cc) against LibTorch's
// unfused batch_norm, add and activation: one layer on random data for every activation,
// with and without the residual add, NCHW and channels_last, float32 and bfloat16, in
// each instruction-set build of the loops (AVX-512, AVX2, baseline); then the first
// training step of whole models of every family that uses them, where both float32 paths
// are judged against the unfused path run in float64 (LibTorch's own float32 result
// differs by version and layout: on 2.14 its dx at a +1000 mean is 2.7e-2 from the
// fused one, in channels_last its statistics accumulate in float).
//
// Training these randomly initialised models on random input is chaotic: the unfused path
// against itself, with the input scaled by 1 + 2^-20, drifts apart over 5 SGD steps as far
// as the fused path does (both about 1e-5 to 1e-2 in the loss by step 5, printed below).
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

import { addonPath } from '../../binding/index.js';
import type { FusedBnDiffs, TestFusedBnResult } from '../../binding/test-hooks.js';
import { testHooks } from '../helpers/hooks.js';

const hooks = testHooks();
const ACTS = ['none', 'relu', 'relu6', 'silu'] as const;

describe.skipIf(!hooks)('fused batch norm + activation, one layer', () => {
  it('float32: output, every gradient and the running statistics equal the unfused path', () => {
    for (const act of ACTS)
      for (const residual of [false, true])
        for (const channelsLast of [false, true]) {
          const r = hooks!._testBnAct({ n: 4, c: 24, h: 7, w: 9, act, residual, channelsLast, seed: 3 });
          const where = `${act}${residual ? ' + residual' : ''} ${channelsLast ? 'channels_last' : 'NCHW'} (${r.isa})`;
          for (const k of ['y', 'dx', 'dWeight', 'dBias', 'dResidual', 'runningMean', 'runningVar'] as const)
            expect(r[k], `${k} of ${where}`).toBeLessThan(2e-6);
        }
  });

  it('float32 with a mean far from zero (+1000): as near the float64 result as the unfused path, or nearer', () => {
    // Here float32 loses digits in the centring, and LibTorch's own result differs by
    // version (its dx is 2.7e-2 from the fused one on 2.14): both are judged against the
    // layer run in float64.
    for (const channelsLast of [false, true]) {
      const r = hooks!._testBnAct({ n: 8, c: 16, h: 6, w: 6, act: 'relu', channelsLast, shift: 1000, seed: 5 });
      const { fused, unfused } = r.vsDouble;
      process.stderr.write(`[fused-bn] +1000 ${channelsLast ? 'CL' : 'NCHW'} against float64: dx fused ${fused.dx.toExponential(1)}, unfused ${unfused.dx.toExponential(1)}\n`);
      for (const k of ['y', 'dx', 'dWeight', 'dBias', 'runningMean', 'runningVar'] as const)
        expect(fused[k], `${k} (unfused: ${unfused[k]})`).toBeLessThan(Math.max(2e-5, 2 * unfused[k]));
    }
  });

  it('bfloat16: within bfloat16 rounding (the fused add rounds once, the unfused path twice)', () => {
    // ReLU6's unfused backward has no bfloat16 kernel on LibTorch 1.x: the other three here
    for (const act of ['none', 'relu', 'silu'] as const)
      for (const residual of [false, true])
        for (const channelsLast of [false, true]) {
          const r = hooks!._testBnAct({ n: 4, c: 16, h: 8, w: 8, act, residual, channelsLast, bf16: true, seed: 7 });
          for (const k of ['y', 'dx', 'dWeight', 'dBias', 'dResidual'] as const)
            expect(r[k], `${k} of bf16 ${act}${residual ? ' + residual' : ''} ${channelsLast ? 'CL' : 'NCHW'}`).toBeLessThan(6e-2);
        }
  });

  it('each instruction-set build of the loops gives the same results (THTL_CPU_KERNELS)', () => {
    const script = `
      const n = require(process.env.ADDON);
      const out = [];
      for (const act of ['relu', 'relu6', 'silu']) for (const channelsLast of [false, true])
        out.push(n._testBnAct({ n: 3, c: 40, h: 5, w: 7, act, residual: act === 'relu', channelsLast, seed: 2 }));
      process.stdout.write(JSON.stringify(out));`;
    const addon = addonPath();
    const isas = new Set<string>();
    for (const forced of ['base', 'avx2', '']) {
      const r = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, ADDON: addon, THTL_CPU_KERNELS: forced }, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const results = JSON.parse(r.stdout) as { isa: string; y: number; dx: number; dWeight: number }[];
      for (const x of results) {
        isas.add(x.isa);
        expect(Math.max(x.y, x.dx, x.dWeight), x.isa).toBeLessThan(2e-6);
      }
    }
    process.stderr.write(`[fused-bn] instruction sets checked: ${[...isas].join(', ')}\n`);
    expect(isas.has('base')).toBe(true);
  });
});

describe('fused batch norm: on by default where it threads, THTL_FUSED_BN overrides', () => {
  it('info().fusedBatchNorm in a fresh process, with THTL_FUSED_BN unset, 0 and 1', () => {
    const script = 'process.stdout.write(JSON.stringify(require(process.env.ADDON).info().fusedBatchNorm))';
    const seen = (value: string | undefined) => {
      const env: NodeJS.ProcessEnv = { ...process.env, ADDON: addonPath() };
      delete env.THTL_FUSED_BN;
      if (value !== undefined) env.THTL_FUSED_BN = value;
      const r = spawnSync(process.execPath, ['-e', script], { env, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { on: boolean; threaded: boolean; isa: string };
    };
    const byDefault = seen(undefined);
    process.stderr.write(`[fused-bn] default in this build: ${JSON.stringify(byDefault)}\n`);
    expect(byDefault.on).toBe(byDefault.threaded);
    expect(['avx512', 'avx2', 'base']).toContain(byDefault.isa);
    expect(seen('0').on).toBe(false);
    expect(seen('1').on).toBe(true);
  });
});

describe('CPU memory format: channels_last by default where LibTorch has oneDNN, THTL_CHANNELS_LAST overrides', () => {
  it('info().cpuChannelsLast in a fresh process, with THTL_CHANNELS_LAST unset, 0 and 1', () => {
    const script = 'process.stdout.write(JSON.stringify(require(process.env.ADDON).info().cpuChannelsLast))';
    const seen = (value: string | undefined): boolean => {
      const env: NodeJS.ProcessEnv = { ...process.env, ADDON: addonPath() };
      delete env.THTL_CHANNELS_LAST;
      if (value !== undefined) env.THTL_CHANNELS_LAST = value;
      const r = spawnSync(process.execPath, ['-e', script], { env, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as boolean;
    };
    process.stderr.write(`[fused-bn] CPU channels_last by default in this build: ${seen(undefined)}\n`);
    expect(seen('0')).toBe(false);
    expect(seen('1')).toBe(true);
  });
});

// The first training step of each family, fused and unfused in float32, each against the
// unfused path in float64 on the same weights and input. The forward (loss, running
// statistics) is held to the unfused path's own distance from float64. The gradient
// cannot be, seed by seed: one element whose pre-activation lies within about 1e-5
// standard deviations of zero can land on the other side of the ReLU's kink in one float32
// run and not in another (upstream rounding moves it), and then that run's whole gradient
// moves by 1e-3 to 7e-2 against float64, on either path (at these small sizes the last
// stages normalise 8 to 16 values per channel). Measured, 3 seeds, LibTorch 1.13 and 2.13:
// resnet18 clean (3e-6 to 6e-6) but for 1-2 flipped runs per path in channels_last;
// mobilenet_v2 and densenet121 flipped in half the runs of either path; efficientnet_v2_s
// never (2e-5 to 4e-5); inception_v3 at 299 px always (2e-2 to 7e-2). So the gradient
// is compared on the seed each path comes closest on, as a check of the wiring (a missing
// activation or a residual in the wrong place is off by 1e-1 and more on every seed);
// precision is the one-layer tests' job, and ResNet-18's first step below, which no flip
// touches, is held to 1e-5 of the unfused path.
const SEEDS = [1, 2, 3];
// how much further from float64 than the unfused path the fused one may be, and the
// floors below which a difference is float32 rounding (forward) or a mask flip (gradient)
const BOUND = 3;
const LOSS_FLOOR = 3e-5;
const STAT_FLOOR = 1e-5;
const GRAD_FLOOR = 5e-2;

// [model, size]: the families with BatchNorm + ReLU / ReLU6 / SiLU (and ResNet's residual add)
const FAMILIES: [string, number][] = [
  ['resnet18', 64],
  ['mobilenet_v2', 64],
  ['densenet121', 64],
  ['efficientnet_v2_s', 64],
  ['inception_v3', 299],
];

describe.skipIf(!hooks)('fused batch norm in whole models, fused against unfused', () => {
  const lossRel = (r: { losses: [number, number][] }) => Math.max(...r.losses.map(([a, b]) => Math.abs(a - b) / Math.abs(b)));
  const grad = (r: FusedBnDiffs) => r.gradAllRel;
  const stat = (r: FusedBnDiffs) => r.statAllRel;
  for (const [model, size] of FAMILIES) {
    it(`${model}: first step against float64, NCHW and channels_last: loss and running statistics as near as the unfused path's, gradients on the seed least touched by mask flips too`, async () => {
      for (const channelsLast of [false, true]) {
        const runs: TestFusedBnResult[] = [];
        for (const seed of SEEDS) {
          runs.push(hooks!._testFusedBn({ model, size, batch: model === 'inception_v3' ? 2 : 4, steps: 1, channelsLast, seed, compare: 'double' }));
          await new Promise((done) => setImmediate(done)); // each call holds the thread for seconds: let the test runner's messages through
        }
        const fused = (f: (r: FusedBnDiffs) => number, pick: (xs: number[]) => number) => pick(runs.map((r) => f(r)));
        const unfused = (f: (r: FusedBnDiffs) => number, pick: (xs: number[]) => number) => pick(runs.map((r) => f(r.unfused!)));
        const max = (xs: number[]) => Math.max(...xs);
        const min = (xs: number[]) => Math.min(...xs);
        const where = `${model} ${channelsLast ? 'CL' : 'NCHW'}`;
        const e = (x: number) => x.toExponential(1);
        process.stderr.write(
          `[fused-bn] ${where} step 1 against float64 (fused/unfused per seed): gradient ${runs.map((r) => `${e(r.gradAllRel)}/${e(r.unfused!.gradAllRel)}`).join(' ')}; loss ${runs.map((r) => `${e(lossRel(r))}/${e(lossRel(r.unfused!))}`).join(' ')}; statistics ${runs.map((r) => `${e(r.statAllRel)}/${e(r.unfused!.statAllRel)}`).join(' ')}\n`,
        );
        expect(fused(lossRel, max), `${where} loss`).toBeLessThan(Math.max(LOSS_FLOOR, BOUND * unfused(lossRel, max)));
        expect(fused(stat, max), `${where} running statistics`).toBeLessThan(Math.max(STAT_FLOOR, BOUND * unfused(stat, max)));
        expect(fused(grad, min), `${where} gradient (${runs.map((r) => r.gradMost).join(', ')})`).toBeLessThan(Math.max(GRAD_FLOOR, BOUND * unfused(grad, min)));
      }
    }, 300_000);
  }

  it('resnet18: first-step gradients within 1e-5, and over 5 steps no further apart than rounding-sized input noise takes them', () => {
    const first = hooks!._testFusedBn({ model: 'resnet18', size: 64, batch: 4, steps: 1 });
    expect(first.gradAllRel).toBeLessThan(1e-5);
    expect(lossRel(first)).toBeLessThan(1e-6);
    const fused = hooks!._testFusedBn({ model: 'resnet18', size: 96, batch: 8, steps: 5, lr: 1e-4 });
    const noise = hooks!._testFusedBn({ model: 'resnet18', size: 96, batch: 8, steps: 5, lr: 1e-4, compare: 'perturbed' });
    process.stderr.write(`[fused-bn] resnet18 5 steps: loss drift fused ${lossRel(fused).toExponential(1)}, perturbed input ${lossRel(noise).toExponential(1)}\n`);
    expect(lossRel(fused)).toBeLessThan(Math.max(1e-4, 20 * lossRel(noise)));
    expect(fused.losses.every(([a]) => Number.isFinite(a))).toBe(true);
  }, 120_000);
});
