// The addon's CPU allocator keeps freed large blocks for the next training step (so the
// step does not fault in and zero the same pages again) and hands them back once the
// compute thread has been idle for a few seconds. THTL_CPU_ALLOCATOR=default leaves
// LibTorch's own allocator in place. Each check runs in a child process, whose allocator
// counters are its own.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { readImageFolder } from '../../lib/data/imagefolder.js';
import { testHooks } from '../helpers/hooks.js';
import { runProcess } from '../helpers/process.js';
import { vesselFolder } from '../helpers/images.js';

const ROOT = join(import.meta.dirname, '..', '..');

const SCRIPT = `
const { native } = await import(process.env.BINDING);
const files = JSON.parse(process.env.FILES);
const labels = Int32Array.from(files.map((_, i) => i % 2));
native().setThreads(1);
const set = await native().ImageSet.build(files, 64, { threads: 1 });
const s = await native().Session.create({ model: 'resnet18', numClasses: 2, device: 'cpu', seed: 1 });
s.configureOptimizer({ lr: 1e-3 });
const first = await s.trainEpoch(set, labels, { batchSize: 4, seed: 0 });
const afterFirst = native().info().cpuAllocator;
const second = await s.trainEpoch(set, labels, { batchSize: 4, seed: 0 });
const afterSecond = native().info().cpuAllocator;
await new Promise((r) => setTimeout(r, 4500));
const idle = native().info().cpuAllocator;
const third = await s.trainEpoch(set, labels, { batchSize: 4, seed: 0 });
process.stdout.write(JSON.stringify({ afterFirst, afterSecond, idle, losses: [first.loss, second.loss, third.loss] }));
`;

async function run(env: Record<string, string>) {
  const files = readImageFolder(vesselFolder(4, 96)).items.map((i) => i.file);
  const r = await runProcess(process.execPath, ['--input-type=module', '-e', SCRIPT], {
    cwd: ROOT,
    env: { ...process.env, BINDING: join(ROOT, 'dist', 'binding', 'index.js'), FILES: JSON.stringify(files), ...env },
  });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as {
    afterFirst: { kind: string; cachedBytes: number; hits: number; misses: number };
    afterSecond: { kind: string; cachedBytes: number; hits: number; misses: number };
    idle: { kind: string; cachedBytes: number; cachedBlocks: number };
    losses: number[];
  };
}

describe('CPU allocator', () => {
  it('reuses freed blocks from one epoch to the next and hands them back when idle', async () => {
    const r = await run({});
    expect(r.afterFirst.kind).toBe('caching');
    expect(r.afterFirst.cachedBytes).toBeGreaterThan(0);
    // the second epoch has the same shapes: it is served from the cache, and asks the
    // system for (almost) nothing new
    const hits = r.afterSecond.hits - r.afterFirst.hits;
    const misses = r.afterSecond.misses - r.afterFirst.misses;
    expect(hits).toBeGreaterThan(10);
    expect(misses).toBeLessThan(hits / 10);
    expect(r.idle.cachedBytes).toBe(0);
    expect(r.idle.cachedBlocks).toBe(0);
    r.losses.forEach((l) => expect(Number.isFinite(l)).toBe(true));
  }, 120_000);

  it('keeps the cache over a longer idle time with THTL_CPU_RELEASE_S (the interleaved benchmark sets it)', async () => {
    const r = await run({ THTL_CPU_RELEASE_S: '60' });
    expect(r.idle.cachedBytes).toBeGreaterThan(0);
  }, 120_000);

  it('carves freed memory into blocks of other sizes and merges freed neighbours', () => {
    const hooks = testHooks();
    if (!hooks) return;
    const MiB = 2 ** 20;
    // 1: 200 MiB, freed; 2 and 3 (120 + 70 MiB) fit in its memory; freed, they merge back
    // into one range that serves 4 (190 MiB); 0: the idle release hands it all back
    const r = hooks._testCpuBlocks([200, -1, 120, 70, -2, -3, 190, -4, 0]);
    const [a, , b, c, , , d, , released] = r;
    expect(b.misses).toBe(a.misses);
    expect(c.misses).toBe(a.misses);
    expect(d.misses).toBe(a.misses);
    expect(d.hits).toBe(a.hits + 3);
    // the process did not grow while the blocks reused that memory (a cache of whole blocks
    // of about one size would have held 200 + 120 + 70 + 190 MiB by then)
    expect(d.residentBytes - a.residentBytes).toBeLessThan(32 * MiB);
    expect(released.cachedBytes).toBe(0);
    expect(a.residentBytes - released.residentBytes).toBeGreaterThan(150 * MiB);
  });

  it("gives the same training results as LibTorch's own allocator", async () => {
    const caching = await run({});
    const plain = await run({ THTL_CPU_ALLOCATOR: 'default' });
    expect(plain.afterSecond.kind).toBe('default');
    expect(plain.afterSecond.hits).toBe(0);
    expect(caching.losses).toEqual(plain.losses);
  }, 120_000);
});
