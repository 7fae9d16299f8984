// Soak: create a Session, train one batch, evaluate, dispose, over and over in one
// process (with an ImageSet built each cycle too): memory stays flat. THTL_SOAK_CYCLES
// sets the count (the test suite: 100; `npm run soak`: 1000).
import { describe, expect, it } from 'vitest';

import { native } from '../../binding/index.js';
import { readImageFolder } from '../../lib/data/imagefolder.js';
import { vesselFolder } from '../helpers/images.js';

const CYCLES = Number(process.env.THTL_SOAK_CYCLES ?? 100);
// Memory settles over the first cycles (allocator arenas, LibTorch's caches; on LibTorch
// 2.x it can take a few dozen), so the baseline is the highest RSS seen from 40% to 70% of
// the run; the end may be this much above it, no more. A leak of a model's weights per
// cycle (resnet18: 45 MB) goes far past it.
const RSS_BOUND_MB = 64;

describe('soak', () => {
  it(`${CYCLES} create / train one batch / evaluate / dispose cycles keep memory flat`, async () => {
    const items = readImageFolder(vesselFolder(2, 48)).items;
    const files = items.map((i) => i.file);
    const labels = Int32Array.from(items.map((i) => i.label));
    const mb = () => process.memoryUsage().rss / 2 ** 20;
    const rss: number[] = [];
    const t0 = Date.now();
    for (let c = 1; c <= CYCLES; c++) {
      const images = await native().ImageSet.build(files, 32, { threads: 1 });
      const s = await native().Session.create({ model: 'resnet18', numClasses: 2, seed: c });
      s.configureOptimizer({ lr: 1e-3 });
      const t = await s.trainEpoch(images, labels, { batchSize: files.length, seed: c });
      expect(Number.isFinite(t.loss)).toBe(true);
      expect((await s.evaluate(images, labels, { batchSize: files.length })).n).toBe(files.length);
      await s.dispose();
      rss.push(mb());
    }
    const warm = Math.max(...rss.slice(Math.floor(CYCLES * 0.4), Math.floor(CYCLES * 0.7)));
    const end = rss[rss.length - 1]!;
    const alloc = native().info().cpuAllocator;
    process.stdout.write(
      `soak: ${CYCLES} cycles in ${((Date.now() - t0) / 1000).toFixed(1)} s; RSS ${rss[0]!.toFixed(0)} MB after the first cycle, ` +
        `at most ${warm.toFixed(0)} MB from 40% to 70% of the run, ${end.toFixed(0)} MB at the end (${(end - warm).toFixed(1)} MB); ` +
        `allocator cache ${(alloc.cachedBytes / 2 ** 20).toFixed(1)} MB in ${alloc.cachedBlocks} blocks\n`,
    );
    expect(end - warm).toBeLessThan(RSS_BOUND_MB);
  });
});
