// The image data path: decode (JPEG/PNG) + PIL-compatible resize, encode, ImageSet.
import { runChecked } from '../helpers/process.js';
import { PYTHON, oracleSkip, pythonOracleMissing } from '../helpers/python.js';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { native } from '../../binding/index.js';

const HELPER = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'data_pil.py');
const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

const pilSkip = oracleSkip('resize and colour layouts against PIL', pythonOracleMissing(['PIL']));

type Job = Record<string, unknown>;
async function pil(jobs: Job[]): Promise<void> {
  await runChecked(PYTHON, [HELPER], { input: JSON.stringify(jobs) });
}

/** A deterministic test picture, interleaved RGB (HWC): smooth structure plus mild texture. */
function picture(w: number, h: number, seed = 1): Uint8Array {
  const out = new Uint8Array(w * h * 3);
  let s = seed >>> 0;
  const rand = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const u = x / w;
      const v = y / h;
      const i = (y * w + x) * 3;
      const disc = (u - 0.6) ** 2 + (v - 0.4) ** 2 < 0.05 ? 60 : 0;
      out[i] = Math.min(255, Math.round(200 * u + 30 * Math.sin(12 * v) + 25 + disc));
      out[i + 1] = Math.min(255, Math.round(127 + 100 * Math.sin(6.28 * (u + v) + seed)));
      out[i + 2] = Math.min(255, Math.round(((x >> 3) + (y >> 3)) % 2 ? 180 : 60) + Math.floor(rand() * 12));
    }
  }
  return out;
}

function hwcToChw(hwc: Uint8Array, w: number, h: number): Uint8Array {
  const out = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) for (let c = 0; c < 3; c++) out[c * w * h + i] = hwc[i * 3 + c];
  return out;
}

function diffStats(a: Uint8Array, b: Uint8Array): { max: number; mean: number } {
  expect(a.length).toBe(b.length);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    sum += d;
    if (d > max) max = d;
  }
  return { max, mean: sum / a.length };
}

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'thtl-data-test-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** PIL's convert('RGB').resize((s, s), BILINEAR) of `src`, as CHW. */
async function pilResized(src: string, size: number): Promise<Uint8Array> {
  const out = `${src}.pil-${size}.raw`;
  await pil([{ op: 'resize', src, size, out }]);
  return hwcToChw(new Uint8Array(readFileSync(out)), size, size);
}

describe('encodeImage / decodeResized', () => {
  it('round-trips a PNG exactly at the same size', () => {
    const w = 48;
    const rgb = picture(w, w, 3);
    const file = join(dir, 'roundtrip.png');
    native().encodeImage(file, rgb, w, w);
    expect(native().decodeResized(file, w)).toEqual(hwcToChw(rgb, w, w));
    // Atomic write: no temporary file is left behind.
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('round-trips a JPEG closely (quality 95)', () => {
    const w = 64;
    const rgb = picture(w, w, 4);
    const file = join(dir, 'roundtrip.JPG');
    native().encodeImage(file, rgb, w, w, 95);
    const back = native().decodeResized(file, w);
    // The blue 8x8 checkerboard suffers from 4:2:0 chroma subsampling (PIL gives the same error).
    expect(diffStats(back, hwcToChw(rgb, w, w)).mean).toBeLessThan(8);
  });

  it('rejects unknown extensions and short buffers', () => {
    const rgb = picture(8, 8);
    expect(() => native().encodeImage(join(dir, 'x.gif'), rgb, 8, 8)).toThrow(/x\.gif.*\.jpg, \.jpeg or \.png/);
    expect(() => native().encodeImage(join(dir, 'x.png'), rgb, 9, 9)).toThrow(/rgb has/);
    expect(existsSync(join(dir, 'x.gif'))).toBe(false);
  });

  it('detects the format by content, not by extension', () => {
    const w = 32;
    const rgb = picture(w, w, 5);
    const file = join(dir, 'really-a-png.jpg');
    native().encodeImage(join(dir, 'tmp-src.png'), rgb, w, w);
    writeFileSync(file, readFileSync(join(dir, 'tmp-src.png')));
    expect(native().decodeResized(file, w)).toEqual(hwcToChw(rgb, w, w));
  });

  it('returns CHW uint8 of 3 * size * size', () => {
    const file = join(dir, 'shape.png');
    native().encodeImage(file, picture(20, 10), 20, 10);
    const out = native().decodeResized(file, 7);
    expect(out).toBeInstanceOf(Uint8Array);
    expect(out.length).toBe(3 * 7 * 7);
  });
});

describe.skipIf(pilSkip)('resize matches PIL Image.resize(BILINEAR)', () => {
  const cases: Array<[number, number, number]> = [
    [200, 150, 64], // downscale, both axes
    [97, 203, 50], // odd sizes, different ratios
    [300, 100, 224], // down in x, up in y
    [30, 20, 64], // upscale
    [640, 480, 224], // typical photo ratio
    [64, 64, 64], // no-op
  ];
  for (const [w, h, s] of cases) {
    it(`PNG ${w}x${h} -> ${s}: max abs diff <= 1`, async () => {
      const file = join(dir, `pil-${w}x${h}.png`);
      native().encodeImage(file, picture(w, h, w + h), w, h);
      const ours = native().decodeResized(file, s);
      const ref = await pilResized(file, s);
      expect(diffStats(ours, ref).max).toBeLessThanOrEqual(1);
    });
  }

  it('large JPEG (1024x768 -> 224, DCT-scaled) is close to a full decode + resize', async () => {
    const w = 1024;
    const h = 768;
    const file = join(dir, 'large.jpg');
    native().encodeImage(file, picture(w, h, 9), w, h, 90);
    const ours = native().decodeResized(file, 224);
    const ref = await pilResized(file, 224);
    const { mean } = diffStats(ours, ref);
    expect(mean).toBeLessThan(2);
  });
});

describe.skipIf(pilSkip)('colour layouts', () => {
  const w = 120;
  const h = 90;
  const s = 40;
  let raw = '';
  beforeAll(() => {
    raw = join(dir, 'layouts.raw');
    writeFileSync(raw, picture(w, h, 11));
  });

  const pngModes = ['L', 'LA', 'RGBA', 'P', '1', 'RGB'];
  for (const mode of pngModes) {
    it(`PNG mode ${mode} matches PIL`, async () => {
      const out = join(dir, `layout-${mode}.png`);
      await pil([{ op: 'convert', raw, width: w, height: h, mode, out }]);
      const ours = native().decodeResized(out, s);
      expect(diffStats(ours, await pilResized(out, s)).max).toBeLessThanOrEqual(1);
      expect(diffStats(native().decodeResized(out, w), native().decodeResized(out, w)).max).toBe(0);
    });
  }

  for (const mode of ['L', 'CMYK']) {
    it(`JPEG mode ${mode} is close to PIL`, async () => {
      const out = join(dir, `layout-${mode}.jpg`);
      await pil([{ op: 'convert', raw, width: w, height: h, mode, out, params: { quality: 95 } }]);
      // No DCT scaling at this size (120x90 -> 90 keeps 8/8): PIL and we decode the same way.
      const size = 90;
      const ours = native().decodeResized(out, size);
      const { mean, max } = diffStats(ours, await pilResized(out, size));
      expect(mean).toBeLessThan(0.5);
      expect(max).toBeLessThanOrEqual(2);
      if (mode === 'L') {
        const plane = size * size;
        expect(ours.subarray(0, plane)).toEqual(ours.subarray(plane, 2 * plane));
        expect(ours.subarray(0, plane)).toEqual(ours.subarray(2 * plane));
      }
    });
  }

  it('progressive JPEG decodes like PIL, and a truncated one is reported', async () => {
    const out = join(dir, 'progressive.jpg');
    await pil([{ op: 'convert', raw, width: w, height: h, mode: 'RGB', out, params: { quality: 90, progressive: true } }]);
    const { mean, max } = diffStats(native().decodeResized(out, 90), await pilResized(out, 90));
    expect(mean).toBeLessThan(0.5);
    expect(max).toBeLessThanOrEqual(2);
    const bytes = readFileSync(out);
    const cut = join(dir, 'progressive-cut.jpg');
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.7)));
    expect(() => native().decodeResized(cut, 32)).toThrow(/progressive-cut\.jpg.*corrupt JPEG/);
  });

  it('16-bit interlaced PNG keeps the high byte', async () => {
    const pw = 37;
    const out = join(dir, 'interlaced16.png');
    const expected = join(dir, 'interlaced16.raw');
    await pil([{ op: 'png16', width: pw, height: pw, out, expected }]);
    const ours = native().decodeResized(out, pw);
    expect(ours).toEqual(hwcToChw(new Uint8Array(readFileSync(expected)), pw, pw));
  });
});

describe('bad files', () => {
  let good = '';
  beforeAll(() => {
    good = join(dir, 'bad-src.jpg');
    native().encodeImage(good, picture(256, 192, 21), 256, 192, 90);
  });

  it('truncated JPEG', () => {
    const bytes = readFileSync(good);
    const file = join(dir, 'truncated.jpg');
    writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
    expect(() => native().decodeResized(file, 32)).toThrow(/truncated\.jpg.*(corrupt|Premature)/i);
  });

  it('JPEG header only', () => {
    const file = join(dir, 'headeronly.jpg');
    writeFileSync(file, readFileSync(good).subarray(0, 40));
    expect(() => native().decodeResized(file, 32)).toThrow(/headeronly\.jpg/);
  });

  it('random bytes named .jpg', () => {
    const file = join(dir, 'random.jpg');
    const bytes = Buffer.alloc(4096);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
    writeFileSync(file, bytes);
    expect(() => native().decodeResized(file, 32)).toThrow(/random\.jpg.*not a JPEG or PNG/);
  });

  it('JPEG magic followed by garbage', () => {
    const file = join(dir, 'garbage.jpg');
    const bytes = Buffer.alloc(2048, 0x5a);
    bytes[0] = 0xff;
    bytes[1] = 0xd8;
    bytes[2] = 0xff;
    writeFileSync(file, bytes);
    expect(() => native().decodeResized(file, 32)).toThrow(/garbage\.jpg.*corrupt JPEG/);
  });

  it('empty file', () => {
    const file = join(dir, 'empty.png');
    writeFileSync(file, Buffer.alloc(0));
    expect(() => native().decodeResized(file, 32)).toThrow(/empty\.png.*empty file/);
  });

  it('missing file', () => {
    expect(() => native().decodeResized(join(dir, 'missing.jpg'), 32)).toThrow(/missing\.jpg.*not found/);
  });

  it('a directory', () => {
    const sub = join(dir, 'adir.png');
    mkdirSync(sub, { recursive: true });
    expect(() => native().decodeResized(sub, 32)).toThrow(/adir\.png/);
  });

  it('truncated and corrupted PNGs', () => {
    const src = join(dir, 'bad-src.png');
    native().encodeImage(src, picture(64, 64, 22), 64, 64);
    const bytes = readFileSync(src);
    const cut = join(dir, 'cut.png');
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    expect(() => native().decodeResized(cut, 32)).toThrow(/cut\.png.*corrupt PNG/);
    const flipped = Buffer.from(bytes);
    flipped[Math.floor(bytes.length / 2)] ^= 0xff; // breaks the IDAT CRC / zlib stream
    const crc = join(dir, 'crc.png');
    writeFileSync(crc, flipped);
    expect(() => native().decodeResized(crc, 32)).toThrow(/crc\.png.*corrupt PNG/);
  });
});

describe('ImageSet', () => {
  const S = 24;
  let goods: string[] = [];
  let bad = '';
  let missing = '';
  let random = '';
  beforeAll(() => {
    const sub = join(dir, 'set');
    mkdirSync(sub, { recursive: true });
    goods = [];
    for (let k = 0; k < 6; k++) {
      const f = join(sub, `img${k}.${k % 2 ? 'png' : 'jpg'}`);
      native().encodeImage(f, picture(40 + 7 * k, 30 + 5 * k, 30 + k), 40 + 7 * k, 30 + 5 * k);
      goods.push(f);
    }
    bad = join(sub, 'broken.jpg');
    const b = readFileSync(goods[0]);
    writeFileSync(bad, b.subarray(0, Math.floor(b.length / 2)));
    missing = join(sub, 'nope.png');
    random = join(sub, 'noise.jpg');
    writeFileSync(random, Buffer.from('definitely not an image, just some text'));
  });

  it('decodes every file like decodeResized, on several threads, and reports progress', async () => {
    const files = [...goods, ...goods, ...goods];
    const calls: Array<[number, number]> = [];
    const set = await native().ImageSet.build(files, S, {
      threads: 2,
      onProgress: (done, total) => calls.push([done, total]),
    });
    expect(set.count).toBe(files.length);
    expect(set.size).toBe(S);
    expect(set.failures()).toEqual([]);
    for (let i = 0; i < files.length; i++) expect(set.pixels(i)).toEqual(native().decodeResized(files[i], S));
    expect(calls.length).toBeGreaterThan(0);
    expect(calls[calls.length - 1]).toEqual([files.length, files.length]);
    for (let i = 1; i < calls.length; i++) expect(calls[i][0]).toBeGreaterThan(calls[i - 1][0]);
  });

  it('skipBad lists exactly the bad files and leaves their images zero', async () => {
    const files = [goods[0], bad, goods[1], missing, random, goods[2]];
    const set = await native().ImageSet.build(files, S, { skipBad: true, threads: 2 });
    const failures = set.failures();
    expect(failures.map((f) => f.index)).toEqual([1, 3, 4]);
    expect(failures.map((f) => f.file)).toEqual([bad, missing, random]);
    expect(failures[1].reason).toMatch(/not found/);
    expect(failures[2].reason).toMatch(/not a JPEG or PNG/);
    for (const f of failures) expect(set.pixels(f.index).every((v) => v === 0)).toBe(true);
    expect(set.pixels(2)).toEqual(native().decodeResized(goods[1], S));
  });

  it('without skipBad rejects naming the bad file', async () => {
    await expect(native().ImageSet.build([goods[0], goods[1], bad, goods[2]], S, { threads: 2 })).rejects.toThrow(
      /broken\.jpg/,
    );
    await expect(native().ImageSet.build([missing], S)).rejects.toThrow(/nope\.png.*not found/);
  });

  it('rejects bad arguments and cannot be constructed directly', async () => {
    expect(() => native().ImageSet.build('x' as unknown as string[], S)).toThrow(new TypeError('ImageSet.build: files must be an array of strings'));
    expect(() => native().ImageSet.build(goods, 0)).toThrow(new RangeError('ImageSet.build: size must be an integer in 1..16384, got 0'));
    const Ctor = native().ImageSet as unknown as new () => unknown;
    expect(() => new Ctor()).toThrow(/ImageSet\.build/);
  });

  it('an empty file list gives an empty set', async () => {
    const set = await native().ImageSet.build([], S);
    expect(set.count).toBe(0);
    expect(set.batch([], false, 1).length).toBe(0);
  });

  it('batch normalises with the ImageNet mean and std', async () => {
    const set = await native().ImageSet.build(goods.slice(0, 3), S, { threads: 1 });
    const indices = [2, 0, 2];
    const batch = set.batch(indices, false, 123);
    const plane = S * S;
    expect(batch).toBeInstanceOf(Float32Array);
    expect(batch.length).toBe(indices.length * 3 * plane);
    indices.forEach((idx, b) => {
      const px = set.pixels(idx);
      for (let c = 0; c < 3; c++) {
        for (let i = 0; i < plane; i++) {
          const want = Math.fround((px[c * plane + i] / 255 - MEAN[c]) / STD[c]);
          const got = batch[(b * 3 + c) * plane + i];
          if (Math.abs(got - want) > 1e-6) expect(got).toBeCloseTo(want, 6);
        }
      }
    });
    expect(() => set.batch([3], false, 1)).toThrow(/out of range/);
    expect(() => set.batch([-1], false, 1)).toThrow(/out of range/);
  });

  it('augment flips horizontally, deterministically per seed, with both outcomes', async () => {
    const set = await native().ImageSet.build([goods[1]], S);
    const plane = S * S;
    const plain = set.batch([0], false, 0);
    const flipped = new Float32Array(3 * plane);
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < S; y++)
        for (let x = 0; x < S; x++) flipped[c * plane + y * S + x] = plain[c * plane + y * S + (S - 1 - x)];
    const n = 32;
    const indices = new Array<number>(n).fill(0);
    const pattern = (seed: number): string => {
      const batch = set.batch(indices, true, seed);
      let p = '';
      for (let b = 0; b < n; b++) {
        const img = batch.subarray(b * 3 * plane, (b + 1) * 3 * plane);
        if (img.every((v, i) => v === plain[i])) p += '0';
        else if (img.every((v, i) => v === flipped[i])) p += '1';
        else p += '?';
      }
      return p;
    };
    const a = pattern(7);
    expect(a).toMatch(/^[01]+$/);
    expect(a).toContain('0');
    expect(a).toContain('1');
    expect(pattern(7)).toBe(a);
    expect(pattern(8)).not.toBe(a);
  });
});
