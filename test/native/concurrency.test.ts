// Two Sessions training at once in one process give exactly what each gives alone: every
// session draws dropout and stochastic depth from its own random stream (Session::OwnRng),
// and tasks of different sessions interleave on the one compute thread.
import { describe, expect, it } from 'vitest';

import { native } from '../../binding/index.js';
import type { ImageSet } from '../../binding/data.js';
import { readImageFolder } from '../../lib/data/imagefolder.js';
import { vesselFolder } from '../helpers/images.js';

async function run(images: ImageSet, labels: Int32Array, seed: number, epochs: number) {
  // mobilenet_v2: its classifier has dropout, so a shared random stream would show.
  const s = await native().Session.create({ model: 'mobilenet_v2', numClasses: 2, seed });
  s.configureOptimizer({ lr: 1e-3 });
  const losses: number[] = [];
  for (let e = 0; e < epochs; e++) losses.push((await s.trainEpoch(images, labels, { batchSize: 4, seed: e })).loss);
  const probs = Array.from((await s.evaluate(images, labels, { batchSize: 4 })).probs);
  await s.dispose();
  return { losses, probs };
}

describe('concurrency', () => {
  it('two Sessions training at once give the same results as each alone', async () => {
    const items = readImageFolder(vesselFolder(8, 48)).items;
    const images = await native().ImageSet.build(items.map((i) => i.file), 32);
    const labels = Int32Array.from(items.map((i) => i.label));
    const aloneA = await run(images, labels, 1, 2);
    const aloneB = await run(images, labels, 2, 2);
    expect(aloneA.losses).not.toEqual(aloneB.losses);
    const [a, b] = await Promise.all([run(images, labels, 1, 2), run(images, labels, 2, 2)]);
    expect(a).toEqual(aloneA);
    expect(b).toEqual(aloneB);
  });
});
