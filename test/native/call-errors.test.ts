// One error style at the boundary (src-native/napi/args.h, async.h): every message
// starts with the call's name; a wrong type is a TypeError, a right type with a value that
// is not allowed a RangeError naming the value (both thrown at once), a failure of the work
// an Error rejecting the Promise. And one progress rule: the last report arrives before the
// Promise settles, and a throwing onProgress stops the call and rejects it.
import { beforeAll, describe, expect, it } from 'vitest';

import { native } from '../../binding/index.js';
import type { ImageSet } from '../../binding/data.js';
import type { NativeSession } from '../../binding/session.js';
import { readImageFolder } from '../../lib/data/imagefolder.js';
import { tempDir, vesselFolder } from '../helpers/images.js';

/** What `fn` throws synchronously. */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a synchronous throw');
}

function expectThrown(fn: () => unknown, kind: typeof TypeError | typeof RangeError, message: string): void {
  const err = thrown(fn);
  expect(err, err.message).toBeInstanceOf(kind);
  expect(err.message).toBe(message);
}

let files: string[];
let labels: Int32Array;
let images: ImageSet;
let session: NativeSession;

beforeAll(async () => {
  const items = readImageFolder(vesselFolder(6, 64)).items;
  files = items.map((i) => i.file);
  labels = Int32Array.from(items.map((i) => i.label));
  images = await native().ImageSet.build(files, 32, { threads: 1 });
  session = await native().Session.create({ model: 'resnet18', numClasses: 2, seed: 1 });
  session.configureOptimizer({ lr: 1e-3 });
});

describe('argument errors', () => {
  const n = () => native();
  type Any = (...args: unknown[]) => unknown;

  it('a wrong type is a TypeError naming the call and the argument', () => {
    expectThrown(() => (n().Session.create as Any)({ model: 3 }), TypeError, 'Session.create: options.model must be a string');
    expectThrown(() => (n().Session.create as Any)('resnet18'), TypeError, 'Session.create: options must be an object');
    expectThrown(() => (session.trainEpoch as Any).call(session, {}, labels), TypeError, 'Session.trainEpoch: images must be an ImageSet');
    expectThrown(() => (session.evaluate as Any).call(session, images, [0, 1]), TypeError, 'Session.evaluate: labels must be an Int32Array');
    expectThrown(() => (session.features as Any).call(session, images, { layer: 4 }), TypeError, 'Session.features: options.layer must be a string');
    expectThrown(() => (session.trainEpoch as Any).call(session, images, labels, { onProgress: 1 }), TypeError, 'Session.trainEpoch: options.onProgress must be a function');
    expectThrown(() => (session.setTrainableGroups as Any).call(session, ['fc', 2]), TypeError, 'Session.setTrainableGroups: groups[1] must be a string');
    expectThrown(() => (n().ImageSet.build as Any)([files[0], 7], 32), TypeError, 'ImageSet.build: files[1] must be a string');
    expectThrown(() => (n().readWeights as Any)(42), TypeError, 'readWeights: path must be a string');
    expectThrown(() => (n().writeSafetensors as Any)('x.safetensors', [{ name: 'a', shape: [1], data: [1] }]), TypeError, 'writeSafetensors: entries[0].data must be a Float32Array');
    expectThrown(() => (n().decodeResized as Any)('', 32), TypeError, 'decodeResized: path must be a non-empty string');
    expectThrown(() => (images.batch as Any).call(images, [0], 'yes', 1), TypeError, 'ImageSet.batch: augment must be a boolean');
  });

  it('a value out of range is a RangeError naming the value', () => {
    expectThrown(() => n().Session.create({ model: 'resnet18', numClasses: 2.5 }), RangeError, 'Session.create: options.numClasses must be an integer in 0..1048576, got 2.5');
    expectThrown(() => session.trainEpoch(images, labels, { batchSize: 0, seed: 1 }), RangeError, 'Session.trainEpoch: options.batchSize must be an integer in 1..1048576, got 0');
    expectThrown(() => session.features(images, { batchSize: 0 }), RangeError, 'Session.features: options.batchSize must be an integer in 1..1048576, got 0');
    expectThrown(() => session.configureOptimizer({ lr: Number.NaN }), RangeError, 'Session.configureOptimizer: options.lr must be a finite number, got NaN');
    expectThrown(() => session.setFrozenBatchNorm('sometimes' as 'eval'), RangeError, "Session.setFrozenBatchNorm: mode must be 'train' or 'eval', got 'sometimes'");
    expectThrown(() => n().ImageSet.build(files, 32, { threads: 0 }), RangeError, 'ImageSet.build: options.threads must be an integer in 1..1024, got 0');
    expectThrown(() => images.pixels(images.count), RangeError, `ImageSet.pixels: index must be an integer in 0..${images.count - 1}, got ${images.count}`);
    expectThrown(() => n().writeSafetensors('x.safetensors', [{ name: 'a', shape: [1.5], data: new Float32Array(1) }]), RangeError, 'writeSafetensors: entries[0].shape[0] must be an integer in 0..9007199254740991, got 1.5');
    expectThrown(() => n().encodeImage('x.png', new Uint8Array(12), 2, 2, 101), RangeError, 'encodeImage: quality must be an integer in 1..100, got 101');
  });

  it('a failure of the work rejects with an Error starting with the call', async () => {
    await expect(native().readWeights('/nonexistent/w.pth')).rejects.toThrow(/^readWeights: .*\/nonexistent\/w\.pth/);
    await expect(session.loadWeights('/nonexistent/w.pth')).rejects.toThrow(/^Session\.loadWeights: .*\/nonexistent\/w\.pth/);
    await expect(native().Session.create({ model: 'resnet19', numClasses: 2 })).rejects.toThrow(/^Session\.create: unknown model 'resnet19'/);
    await expect(native().ImageSet.build(['/nonexistent/a.png'], 32)).rejects.toThrow(/^ImageSet\.build: \/nonexistent\/a\.png/);
  });
});

describe('progress', () => {
  it('the last report arrives before the Promise settles, for an epoch and for a build', async () => {
    const batches: number[][] = [];
    await session.trainEpoch(images, labels, { batchSize: 2, seed: 1, onProgress: (b, n) => batches.push([b, n]) });
    const n = Math.ceil(files.length / 2);
    expect(batches.at(-1)).toEqual([n, n]);
    const built: number[][] = [];
    await native().ImageSet.build(files, 24, { threads: 2, onProgress: (d, t) => built.push([d, t]) });
    expect(built.at(-1)).toEqual([files.length, files.length]);
    for (let i = 1; i < built.length; i++) expect(built[i]![0]).toBeGreaterThan(built[i - 1]![0]!);
  });

  it('a throwing onProgress stops the call and rejects it, the same way for an epoch and a build', async () => {
    let calls = 0;
    const boom = () => {
      calls++;
      throw new Error('boom');
    };
    await expect(session.evaluate(images, labels, { batchSize: 1, onProgress: boom })).rejects.toThrow('Session.evaluate: onProgress threw: boom');
    expect(calls).toBe(1);
    await expect(native().ImageSet.build(files, 20, { threads: 1, onProgress: boom, cacheDir: tempDir('progress-throw') })).rejects.toThrow(
      'ImageSet.build: onProgress threw: boom',
    );
    // The session is usable afterwards.
    expect((await session.evaluate(images, labels, { batchSize: 3 })).n).toBe(files.length);
  });
});
