// linkAtomic (the run folder's best.ckpt/last.ckpt links): no temp file is ever left behind,
// also when the target already is a link to the same file (rename(2) then does nothing).
import { linkSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { linkAtomic } from '../../lib/train/runner.js';
import { tempDir } from '../helpers/images.js';

describe('linkAtomic', () => {
  it('links a new name, replaces an old one, and redoes an existing link without leaving a temp file', () => {
    const dir = tempDir('link');
    const last = join(dir, 'last.ckpt');
    const best = join(dir, 'best.ckpt');
    writeFileSync(last, 'epoch 1');
    linkAtomic(last, best);
    expect(statSync(best).ino).toBe(statSync(last).ino);
    writeFileSync(join(dir, 'other'), 'epoch 2');
    linkAtomic(join(dir, 'other'), best);
    expect(readFileSync(best, 'utf8')).toBe('epoch 2');
    // best and last already the same file: what a run killed right after linking redoes on resume
    linkSync(last, join(dir, 'again'));
    linkAtomic(last, join(dir, 'again'));
    linkAtomic(last, join(dir, 'again'));
    expect(readdirSync(dir).sort()).toEqual(['again', 'best.ckpt', 'last.ckpt', 'other']);
  });
});
