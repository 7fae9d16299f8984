// The persistent decode cache (ImageSet.build with cacheDir): equality with the in-memory
// path, reuse, changed files, resume after SIGKILL, corrupt or other-version files,
// skipBad, and concurrent builders.
import { spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { addonPath, native } from '../../binding/index.js';
import type { ImageSet, ImageSetBuildOptions } from '../../binding/data.js';
import { tempDir } from '../helpers/images.js';

const S = 32;

/** A deterministic interleaved RGB picture with some structure and texture. */
function picture(w: number, h: number, seed: number): Uint8Array {
  const out = new Uint8Array(w * h * 3);
  let s = (seed * 2654435761) >>> 0;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      const i = (y * w + x) * 3;
      out[i] = (x * 3 + seed * 37) & 255;
      out[i + 1] = Math.round(127 + 100 * Math.sin((x + y) / (4 + (seed % 7)) + seed));
      out[i + 2] = (((x >> 3) + (y >> 3) + seed) % 2 ? 200 : 50) + (s >>> 28);
    }
  return out;
}

/** Writes `n` small images (JPEG, every fifth a PNG) into a new folder of `root`. */
function writeImages(root: string, name: string, n: number, seed = 0): string[] {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  for (let i = 0; i < n; i++) {
    const w = 64 + ((i * 13) % 64);
    const h = 64 + ((i * 29) % 48);
    const file = join(dir, `img${String(i).padStart(4, '0')}.${i % 5 === 4 ? 'png' : 'jpg'}`);
    native().encodeImage(file, picture(w, h, seed + i), w, h, 90);
    files.push(file);
  }
  return files;
}

async function build(files: string[], options: ImageSetBuildOptions = {}): Promise<ImageSet> {
  return native().ImageSet.build(files, S, { threads: 2, ...options });
}

function expectSamePixels(a: ImageSet, b: ImageSet): void {
  expect(a.count).toBe(b.count);
  for (let i = 0; i < a.count; i++) {
    const pa = a.pixels(i);
    const pb = b.pixels(i);
    if (Buffer.compare(Buffer.from(pa), Buffer.from(pb)) !== 0) throw new Error(`image ${i} differs`);
  }
}

/** The cache's files in `dir` by suffix (pixels, index, lock). */
function cacheFiles(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir)) {
    const m = /^[0-9a-f]{16}-\d+px\.(pixels|index|lock)$/.exec(f);
    if (m) out[m[1]!] = join(dir, f);
  }
  return out;
}

// A child process that builds a cache and prints every progress report, then its stats.
const CHILD = `
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
const require = createRequire(import.meta.url);
const [addon, list, cacheDir, size] = process.argv.slice(2);
const { ImageSet } = require(addon);
const files = JSON.parse(readFileSync(list, 'utf8'));
const set = await ImageSet.build(files, Number(size), {
  cacheDir, threads: 2, onProgress: (done) => process.stdout.write('progress ' + done + '\\n'),
});
process.stdout.write('stats ' + JSON.stringify(set.stats()) + '\\n');
`;

interface Child {
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  kill(): void;
}

function startChild(root: string, files: string[], cacheDir: string, env: NodeJS.ProcessEnv, onProgress?: (done: number) => void): Child {
  const script = join(root, 'build-child.mjs');
  if (!existsSync(script)) writeFileSync(script, CHILD);
  const list = join(root, `files-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(list, JSON.stringify(files));
  const child = spawn(process.execPath, [script, addonPath(), list, cacheDir, String(S)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    if (onProgress) for (const m of d.matchAll(/progress (\d+)/g)) onProgress(Number(m[1]));
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { done, kill: () => child.kill('SIGKILL') };
}

function childStats(stdout: string): { decoded: number; reused: number; failed: number } {
  const m = /stats (\{.*\})/.exec(stdout);
  if (!m) throw new Error(`no stats in child output:\n${stdout}`);
  return JSON.parse(m[1]!);
}

let root = '';
let files: string[] = [];
let memory: ImageSet;
beforeAll(async () => {
  root = tempDir('disk-cache');
  files = writeImages(root, 'images', 40);
  memory = await build(files);
});
afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('disk cache', () => {
  it('gives the same pixels and batches as the in-memory path, in a keyed file', async () => {
    const dir = join(root, 'c-equal');
    const set = await build(files, { cacheDir: dir });
    expect(set.stats()).toEqual({ decoded: files.length, reused: 0, failed: 0, cacheFile: expect.any(String) });
    expect(memory.stats()).toEqual({ decoded: files.length, reused: 0, failed: 0, cacheFile: null });
    expectSamePixels(set, memory);
    const idx = [3, 0, 39, 17, 17];
    expect(set.batch(idx, true, 5)).toEqual(memory.batch(idx, true, 5));
    const cf = cacheFiles(dir);
    expect(Object.keys(cf).sort()).toEqual(['index', 'lock', 'pixels']);
    expect(set.stats().cacheFile).toBe(cf.pixels);
    expect(statSync(cf.pixels!).size).toBe(4096 + files.length * 3 * S * S);
    // Another size or another file list is another cache.
    await native().ImageSet.build(files, S + 8, { cacheDir: dir, threads: 2 });
    await build(files.slice(1), { cacheDir: dir });
    expect(readdirSync(dir).filter((f) => f.endsWith('.pixels'))).toHaveLength(3);
  });

  it('a second build reuses every image and reports the total at once', async () => {
    const dir = join(root, 'c-reuse');
    const t0 = performance.now();
    await build(files, { cacheDir: dir });
    const first = performance.now() - t0;
    const calls: [number, number][] = [];
    const t1 = performance.now();
    const set = await build(files, { cacheDir: dir, onProgress: (d, t) => calls.push([d, t]) });
    const second = performance.now() - t1;
    expect(set.stats()).toMatchObject({ decoded: 0, reused: files.length, failed: 0 });
    expect(calls[0]).toEqual([files.length, files.length]);
    expect(calls).toHaveLength(1);
    expectSamePixels(set, memory);
    expect(second).toBeLessThan(first + 50);
    // A relative spelling of the same paths is the same cache.
    const again = await build(files.map((f) => relative(process.cwd(), f)), { cacheDir: dir });
    expect(again.stats().decoded).toBe(0);
  });

  it('re-decodes only a changed file (new content, or only a new mtime)', async () => {
    const own = writeImages(root, 'changing', 12, 100);
    const dir = join(root, 'c-change');
    await build(own, { cacheDir: dir });
    // New content at the same path.
    native().encodeImage(own[2]!, picture(90, 70, 999), 90, 70, 90);
    // Same bytes, another mtime.
    const t = statSync(own[7]!).mtime;
    utimesSync(own[7]!, t, new Date(t.getTime() + 5000));
    const set = await build(own, { cacheDir: dir });
    expect(set.stats()).toMatchObject({ decoded: 2, reused: 10 });
    expect(Buffer.from(set.pixels(2))).toEqual(Buffer.from(native().decodeResized(own[2]!, S)));
    expectSamePixels(set, await build(own));
    expect((await build(own, { cacheDir: dir })).stats()).toMatchObject({ decoded: 0, reused: 12 });
  });

  it('resumes a build killed with SIGKILL and ends identical to a clean build', async () => {
    const many = writeImages(root, 'many', 160, 500);
    const dir = join(root, 'c-kill');
    const target = 110;
    let child: Child | undefined = undefined;
    let killed = false;
    child = startChild(root, many, dir, { THTL_TEST_DECODE_DELAY_MS: '15' }, (done) => {
      if (done >= target && !killed) {
        killed = true;
        child?.kill();
      }
    });
    const r = await child.done;
    expect(r.signal).toBe('SIGKILL');
    expect(r.stdout).not.toMatch(/stats/);
    const stem = cacheFiles(dir).index!;
    writeFileSync(`${stem}.tmp-99999999`, 'a temp file a killed index write left');
    const resumed = await native().ImageSet.build(many, S, { cacheDir: dir, threads: 2 });
    const st = resumed.stats();
    expect(st.reused).toBeGreaterThanOrEqual(64); // at least the first checkpoint
    expect(st.decoded).toBeLessThan(many.length);
    expect(st.decoded + st.reused).toBe(many.length);
    expectSamePixels(resumed, await build(many));
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('aborts a build through its AbortSignal, keeping what was decoded for the next build', async () => {
    const many = writeImages(root, 'abort', 160, 700);
    const dir = join(root, 'c-abort');
    const before = new AbortController();
    before.abort();
    await expect(build(many, { signal: before.signal })).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    await expect(build(many, { signal: 'no' as unknown as AbortSignal })).rejects.toThrow(/options.signal must be an AbortSignal/);
    const controller = new AbortController();
    process.env.THTL_TEST_DECODE_DELAY_MS = '20';
    try {
      const aborted = build(many, {
        cacheDir: dir,
        threads: 2,
        signal: controller.signal,
        onProgress: (done) => done >= 80 && controller.abort(),
      });
      await expect(aborted).rejects.toMatchObject({ name: 'AbortError', message: 'ImageSet.build: aborted' });
    } finally {
      delete process.env.THTL_TEST_DECODE_DELAY_MS;
    }
    const resumed = await build(many, { cacheDir: dir, threads: 2 });
    const st = resumed.stats();
    expect(st.reused).toBeGreaterThanOrEqual(80);
    expect(st.decoded).toBeGreaterThan(0); // it stopped before the end
    expect(st.decoded + st.reused).toBe(many.length);
    expectSamePixels(resumed, await build(many));
  });

  it('rebuilds a corrupt index, a truncated pixel file and another version, without disturbing open sets', async () => {
    const dir = join(root, 'c-corrupt');
    const first = await build(files, { cacheDir: dir });
    const cf = cacheFiles(dir);
    const all = files.length;

    writeFileSync(cf.index!, 'not an index at all');
    const a = await build(files, { cacheDir: dir });
    expect(a.stats()).toMatchObject({ decoded: all, reused: 0 });
    expectSamePixels(a, memory);

    // One flipped byte in the index breaks its checksum.
    const bytes = readFileSync(cf.index!);
    bytes[60] = bytes[60]! ^ 0xff;
    writeFileSync(cf.index!, bytes);
    expect((await build(files, { cacheDir: dir })).stats().decoded).toBe(all);

    truncateSync(cf.pixels!, 4096 + 5 * 3 * S * S);
    expect((await build(files, { cacheDir: dir })).stats().decoded).toBe(all);

    rmSync(cf.pixels!);
    expect((await build(files, { cacheDir: dir })).stats().decoded).toBe(all);

    // Another format version in the pixel header (u32 at byte 8), and in the index.
    const px = readFileSync(cf.pixels!);
    px.writeUInt32LE(999, 8);
    writeFileSync(cf.pixels!, px);
    expect((await build(files, { cacheDir: dir })).stats().decoded).toBe(all);
    const ix = readFileSync(cf.index!);
    ix.writeUInt32LE(999, 8);
    writeFileSync(cf.index!, ix);
    const b = await build(files, { cacheDir: dir });
    expect(b.stats().decoded).toBe(all);
    expectSamePixels(b, memory);

    // Garbage of the right length in place of the pixel file.
    writeFileSync(cf.pixels!, Buffer.alloc(4096 + all * 3 * S * S, 7));
    const c = await build(files, { cacheDir: dir });
    expect(c.stats().decoded).toBe(all);
    expectSamePixels(c, memory);

    // Sets built before the rebuilds still read their own (unlinked) mappings.
    expectSamePixels(first, memory);
    expectSamePixels(a, memory);
  });

  it('skipBad records failures with reasons and retries them only when the file changes', async () => {
    const own = writeImages(root, 'bad', 8, 300);
    const bad = join(root, 'bad', 'broken.jpg');
    writeFileSync(bad, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 5]));
    const missing = join(root, 'bad', 'missing.png');
    const list = [own[0]!, bad, own[1]!, missing, ...own.slice(2)];
    const dir = join(root, 'c-bad');

    const set = await build(list, { cacheDir: dir, skipBad: true });
    const failures = set.failures();
    expect(failures.map((f) => [f.index, f.file])).toEqual([
      [1, bad],
      [3, missing],
    ]);
    expect(failures[1]!.reason).toMatch(/not found/);
    expect(set.stats()).toMatchObject({ decoded: list.length, reused: 0, failed: 2 });
    expect(set.pixels(1).every((v) => v === 0)).toBe(true);

    const again = await build(list, { cacheDir: dir, skipBad: true });
    expect(again.stats()).toMatchObject({ decoded: 0, reused: list.length, failed: 2 });
    expect(again.failures()).toEqual(failures);

    // Without skipBad the cached failure is an error naming the file.
    await expect(build(list, { cacheDir: dir })).rejects.toThrow(/broken\.jpg: /);

    // A repaired file is decoded; the missing one is still not retried.
    native().encodeImage(bad, picture(80, 64, 4242), 80, 64, 90);
    const repaired = await build(list, { cacheDir: dir, skipBad: true });
    expect(repaired.stats()).toMatchObject({ decoded: 1, failed: 1 });
    expect(repaired.failures().map((f) => f.index)).toEqual([3]);
    expect(Buffer.from(repaired.pixels(1))).toEqual(Buffer.from(native().decodeResized(bad, S)));

    // The missing file appears: decoded; the cache is then complete.
    copyFileSync(own[0]!, missing);
    const complete = await build(list, { cacheDir: dir });
    expect(complete.stats()).toMatchObject({ decoded: 1, failed: 0 });
  });

  it('a failing build without skipBad keeps the images it decoded', async () => {
    const own = writeImages(root, 'fatal', 10, 700);
    const bad = join(root, 'fatal', 'zz-bad.jpg');
    writeFileSync(bad, 'garbage');
    const dir = join(root, 'c-fatal');
    await expect(build([...own, bad], { cacheDir: dir, threads: 1 })).rejects.toThrow(/zz-bad\.jpg/);
    rmSync(bad);
    native().encodeImage(bad, picture(64, 64, 1), 64, 64, 90);
    const set = await build([...own, bad], { cacheDir: dir });
    expect(set.stats()).toMatchObject({ decoded: 1, reused: 10 });
  });

  it('two processes building the same cache at once end with one valid cache', async () => {
    const dir = join(root, 'c-concurrent');
    const env = { THTL_TEST_DECODE_DELAY_MS: '5' };
    const [r1, r2] = await Promise.all([startChild(root, files, dir, env).done, startChild(root, files, dir, env).done]);
    expect([r1.code, r2.code, r1.stderr, r2.stderr]).toEqual([0, 0, '', '']);
    const s1 = childStats(r1.stdout);
    const s2 = childStats(r2.stdout);
    // The second waits for the first's lock, then reuses everything.
    expect(s1.decoded + s2.decoded).toBe(files.length);
    expect(s1.reused + s2.reused).toBe(files.length);
    const set = await build(files, { cacheDir: dir });
    expect(set.stats().decoded).toBe(0);
    expectSamePixels(set, memory);
    // Builds in one process serialise the same way.
    const dir2 = join(root, 'c-concurrent-2');
    const sets = await Promise.all([build(files, { cacheDir: dir2 }), build(files, { cacheDir: dir2 })]);
    expect(sets[0]!.stats().decoded + sets[1]!.stats().decoded).toBe(files.length);
    expectSamePixels(sets[0]!, sets[1]!);
  });

  it('handles an empty list, and rejects a bad cacheDir clearly', async () => {
    const dir = join(root, 'c-empty');
    const empty = await build([], { cacheDir: dir });
    expect(empty.count).toBe(0);
    await expect(build(files, { cacheDir: '' })).rejects.toThrow(/cacheDir must be a non-empty string/);
    await expect(build(files, { cacheDir: 3 as unknown as string })).rejects.toThrow(/cacheDir/);
    const notDir = join(root, 'a-file');
    writeFileSync(notDir, 'x');
    await expect(build(files, { cacheDir: notDir })).rejects.toThrow(/cannot create the decode cache folder/);
  });
});
