// Checkpoints carry a checksum (src-native/common/fs.cc: FileSink::closeWithChecksum, verifyChecksum):
// a damaged or cut last.ckpt / best.ckpt is detected before it is loaded, the session is
// left as it was, and an interrupted run falls back to best.ckpt or starts over, saying so.
import { readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { native } from '../../binding/index.js';
import { trainRun } from '../../lib/train/runner.js';
import { tempDir } from '../helpers/images.js';
import { tinyRun } from '../helpers/runs.js';
import { randomInput } from '../helpers/tensors.js';

/** Replaces `path` by a new file (a new inode: a hard link to the old one keeps it) with one byte flipped. */
function damage(path: string, at = 0.5): void {
  const bytes = readFileSync(path);
  bytes[Math.floor(bytes.length * at)]! ^= 0xff;
  rmSync(path);
  writeFileSync(path, bytes);
}

describe('checkpoint integrity', () => {
  it('a flipped byte or a cut file is refused as damaged, and the session is left as it was', async () => {
    const dir = tempDir('ckpt-integrity');
    const s = await native().Session.create({ model: 'resnet18', numClasses: 2, seed: 1 });
    const path = join(dir, 'c.ckpt');
    await s.saveCheckpoint(path, JSON.stringify({ epoch: 1 }));
    expect(readFileSync(path).subarray(-24, -16).toString()).toBe('THTLSUM1');
    expect(JSON.parse(await s.loadCheckpoint(path))).toEqual({ epoch: 1 });

    const other = await native().Session.create({ model: 'resnet18', numClasses: 3, seed: 2 });
    const input = randomInput(1, 32);
    const before = await other.predict(input, [1, 3, 32, 32]);
    const copy = join(dir, 'damaged.ckpt');
    writeFileSync(copy, readFileSync(path));
    damage(copy);
    await expect(other.loadCheckpoint(copy)).rejects.toMatchObject({
      code: 'ERR_THTL_CORRUPT_FILE',
      message: expect.stringMatching(/^Session\.loadCheckpoint: checkpoint .*damaged\.ckpt is damaged: its content does not match its checksum$/),
    });
    writeFileSync(copy, readFileSync(path));
    truncateSync(copy, statSync(copy).size - 1000);
    await expect(other.loadCheckpoint(copy)).rejects.toMatchObject({ code: 'ERR_THTL_CORRUPT_FILE', message: expect.stringMatching(/cut\.ckpt|damaged\.ckpt/) });
    expect(other.info().numClasses).toBe(3);
    expect((await other.predict(input, [1, 3, 32, 32])).data).toEqual(before.data);
    // Not damage: another model is an ordinary error, without the code.
    const vgg = await native().Session.create({ model: 'mobilenet_v2', numClasses: 2 });
    const err = await vgg.loadCheckpoint(path).catch((e: Error & { code?: string }) => e);
    expect((err as Error).message).toMatch(/holds a resnet18, not a mobilenet_v2/);
    expect((err as { code?: string }).code).toBeUndefined();
    await Promise.all([s.dispose(), other.dispose(), vgg.dispose()]);
  });

  it('an interrupted run with a damaged last.ckpt resumes from best.ckpt; with both damaged it starts over', async () => {
    const cfg = tinyRun('ckpt-fallback');
    const interrupted = async () => {
      const controller = new AbortController();
      const progress = { status: () => {}, line: (t: string) => /^epoch +2 /.test(t) && controller.abort() };
      await expect(trainRun(cfg, progress, { signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
    };
    const resume = async () => {
      const lines: string[] = [];
      const r = await trainRun({ ...cfg, resume: true }, { status: () => {}, line: (t) => lines.push(t) });
      return { r, log: lines.join('\n') };
    };
    const bestEpoch = () => JSON.parse(readFileSync(join(cfg.out, 'metrics.jsonl'), 'utf8').trim().split('\n').filter((l) => JSON.parse(l).best).at(-1)!).epoch as number;

    await interrupted();
    const best = bestEpoch();
    damage(join(cfg.out, 'last.ckpt'));
    const a = await resume();
    expect(a.log).toMatch(/last\.ckpt is damaged: its content does not match its checksum; falling back to best\.ckpt/);
    expect(a.log).toMatch(new RegExp(`resuming .* after epoch ${best} `));
    expect(a.r.epochsRun).toBe(3);

    rmSync(cfg.out, { recursive: true });
    await interrupted();
    damage(join(cfg.out, 'last.ckpt'));
    damage(join(cfg.out, 'best.ckpt'), 0.3);
    const b = await resume();
    expect(b.log).toMatch(/best\.ckpt is damaged: .*; starting the run over/);
    expect(b.log).not.toMatch(/resuming/);
    expect(b.r.epochsRun).toBe(3);
    expect(readFileSync(join(cfg.out, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(3);
  });
});
