// Weight files: .pth (zip pickle) and .safetensors reading, writing, and loading
// into a module. Fixtures come from test/fixtures/make_weights.py (needs torch).
import { execFileSync } from 'node:child_process';
import { runChecked } from '../helpers/process.js';
import { PYTHON } from '../helpers/python.js';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { native } from '../../binding/index.js';
import { testHooks } from '../helpers/hooks.js';
import type { WeightEntry, WeightInput } from '../../binding/weights.js';

const SCRIPT = fileURLToPath(new URL('../fixtures/make_weights.py', import.meta.url));

interface Expected {
  name: string;
  dtype: string;
  shape: number[];
  values: number[];
}
type ExpectedSets = Record<'small' | 'head7' | 'dtypes' | 'views' | 'only_view' | 'params' | 'hand', Expected[]>;

let dir = '';
let expected: ExpectedSets;
const fx = (name: string) => join(dir, name);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'thtl-weights-'));
  await runChecked(PYTHON, [SCRIPT, 'make', dir]);
  expected = JSON.parse(readFileSync(fx('expected.json'), 'utf8')) as ExpectedSets;
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Asserts names (in order), dtypes, shapes and values equal exactly (values as float32). */
function expectEntries(got: WeightEntry[], want: Expected[]): void {
  expect(got.map((e) => e.name)).toEqual(want.map((e) => e.name));
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    expect({ name: g.name, dtype: g.dtype, shape: g.shape }).toEqual({ name: w.name, dtype: w.dtype, shape: w.shape });
    expect(g.data).toBeInstanceOf(Float32Array);
    expect(Array.from(g.data), g.name).toEqual(w.values.map((v) => Math.fround(v)));
  }
}

function asInputs(entries: WeightEntry[]): WeightInput[] {
  return entries.map((e) => ({
    name: e.name,
    shape: e.shape,
    data: e.data,
    dtype: e.dtype as WeightInput['dtype'],
  }));
}

async function pythonCheck(file: string, want: Expected[], tmpName: string): Promise<string> {
  const wantFile = join(dir, tmpName);
  writeFileSync(wantFile, JSON.stringify(want));
  return (await runChecked(PYTHON, [SCRIPT, 'check', file, wantFile])).trim();
}

/** The error `fn` throws or its promise rejects with. */
async function errorOf(fn: () => unknown): Promise<Error> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(Error);
    return err as Error;
  }
  throw new Error('expected an error, but the call succeeded');
}

describe('readWeights: .pth (zip pickle)', () => {
  it('reads an OrderedDict state_dict in state_dict() order, with exact values', async () => {
    expectEntries(await native().readWeights(fx('ordered.pth')), expected.small);
  });

  it('reads a plain dict, and dicts nested under "state_dict" and "model"', async () => {
    for (const f of ['plain.pth', 'nested.pth', 'model_nested.pth']) {
      expectEntries(await native().readWeights(fx(f)), expected.small);
    }
  });

  it('keeps num_batches_tracked as an int64 scalar', async () => {
    const nbt = (await native().readWeights(fx('ordered.pth'))).find((e) => e.name === 'features.1.num_batches_tracked')!;
    expect(nbt).toMatchObject({ dtype: 'int64', shape: [] });
    expect(Array.from(nbt.data)).toEqual([3]);
  });

  it('reads float16, float64, bfloat16, integer, bool, scalar and empty tensors', async () => {
    expectEntries(await native().readWeights(fx('dtypes.pth')), expected.dtypes);
  });

  it('honours storage offsets and strides of views sharing one storage', async () => {
    expectEntries(await native().readWeights(fx('views.pth')), expected.views);
    expectEntries(await native().readWeights(fx('only_view.pth')), expected.only_view);
  });

  it('reads nn.Parameter values', async () => {
    expectEntries(await native().readWeights(fx('params.pth')), expected.params);
  });
});

describe('readWeights: .safetensors', () => {
  it('reads a file written by hand (F32, F16, BF16, F64, I64, I32, U8, BOOL, __metadata__)', async () => {
    expectEntries(await native().readWeights(fx('hand.safetensors')), expected.hand);
  });

  it('chooses the format by content, not by extension', async () => {
    execFileSync('cp', [fx('hand.safetensors'), fx('hand_renamed.pth')]);
    execFileSync('cp', [fx('ordered.pth'), fx('ordered_renamed.safetensors')]);
    expectEntries(await native().readWeights(fx('hand_renamed.pth')), expected.hand);
    expectEntries(await native().readWeights(fx('ordered_renamed.safetensors')), expected.small);
  });
});

describe('writeSafetensors', () => {
  it('round-trips a state_dict, and Python can parse the file we wrote', async () => {
    const out = fx('roundtrip.safetensors');
    await native().writeSafetensors(out, asInputs(await native().readWeights(fx('ordered.pth'))));
    expectEntries(await native().readWeights(out), expected.small);
    expect(await pythonCheck(out, expected.small, 'want_small.json')).toBe('OK');
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('round-trips every dtype it is asked to store', async () => {
    const first = (await native().readWeights(fx('dtypes.pth')));
    const out = fx('dtypes.safetensors');
    await native().writeSafetensors(out, asInputs(first));
    const again = (await native().readWeights(out));
    expect(again.map((e) => [e.name, e.dtype, e.shape])).toEqual(first.map((e) => [e.name, e.dtype, e.shape]));
    for (let i = 0; i < first.length; i++) expect(Array.from(again[i]!.data)).toEqual(Array.from(first[i]!.data));
    // Python sees the same (float64 passed through float32 here, so compare the float32 values).
    const want = first.map((e) => ({ name: e.name, dtype: e.dtype, shape: e.shape, values: Array.from(e.data) }));
    expect(await pythonCheck(out, want, 'want_dtypes.json')).toBe('OK');
  });

  it('defaults to float32 and overwrites an existing file atomically', async () => {
    const out = fx('overwrite.safetensors');
    await native().writeSafetensors(out, [{ name: 'a', shape: [2], data: new Float32Array([1, 2]) }]);
    await native().writeSafetensors(out, [{ name: 'b', shape: [1, 3], data: new Float32Array([0.5, -1, 3]) }]);
    const got = (await native().readWeights(out));
    expect(got.map((e) => [e.name, e.dtype, e.shape, Array.from(e.data)])).toEqual([['b', 'float32', [1, 3], [0.5, -1, 3]]]);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('rejects bad entries with a clear error', async () => {
    const out = fx('bad.safetensors');
    const write = (entries: unknown) => () => native().writeSafetensors(out, entries as WeightInput[]);
    expect((await errorOf(write([{ name: 'a', shape: [3], data: new Float32Array(2) }]))).message).toMatch(/entries\[0\].*2 values.*needs 3/);
    expect((await errorOf(write([{ name: 'a', shape: [-1], data: new Float32Array(0) }]))).message).toMatch(/shape/);
    expect((await errorOf(write([{ name: 'a', shape: [1], data: [1] }]))).message).toMatch(/Float32Array/);
    expect((await errorOf(write([{ name: 'a', shape: [1], data: new Float32Array(1), dtype: 'float8' }]))).message).toMatch(/unknown dtype 'float8'/);
    const dup = { name: 'a', shape: [1], data: new Float32Array(1) };
    expect((await errorOf(write([dup, dup]))).message).toMatch(/bad\.safetensors.*'a' appears twice/);
    expect(existsSync(out)).toBe(false);
    const nowhere = join(dir, 'no-such-folder', 'x.safetensors');
    expect((await errorOf(() => native().writeSafetensors(nowhere, [dup]))).message).toContain(nowhere);
  });
});

describe('readWeights: bad files name the file and say what is wrong', () => {
  const cases: Array<[string, RegExp]> = [
    ['missing.pth', /file not found/],
    ['empty.pth', /empty/],
    ['text.pth', /not a weight file/],
    ['expected.json', /not a weight file/],
    ['truncated.pth', /truncated/],
    ['truncated.safetensors', /truncated/],
    ['header_cut.safetensors', /truncated/],
    ['legacy.pth', /legacy.*non-zip.*re-save/i],
    ['torchscript.pt', /TorchScript/],
    ['whole_model.pth', /pickled Python object \(__main__\.Small\).*state_dict/],
    ['not_tensors.pth', /not tensors: 'epoch' \(an int\), 'name' \(a str\)/],
    ['other.zip', /zip archive but not a PyTorch weight file/],
    ['bad_offsets.safetensors', /data_offsets span 12 bytes.*need 4 x 4/],
    ['bad_json.safetensors', /bad safetensors header/],
    ['bad_dtype.safetensors', /unsupported dtype "C64"/],
    // Hostile files (test/fixtures/make_weights.py, make_hostile): refused before any
    // allocation they ask for, and nothing named in them is ever run.
    ['evil_global.pth', /pickled Python object \(posix\.system\).*weights_only=True.*at byte 2 of the pickle/],
    ['cyclic.pth', /holds a list, not a state_dict/],
    ['deep_marks.pth', /MARKs nest deeper than 4096 levels/],
    ['numel_lie.pth', /storage 0 is said to hold 100 elements, but its record archive\/data\/0 holds 4/],
    ['view_bomb.pth', /view 4294967296 bytes of storage in all, far more than the file's \d+ bytes/],
    ['zip_dotdot.pth', /unsafe name 'archive\/\.\.\/\.\.\/etc\/passwd'/],
    ['zip_twice.pth', /entry name archive\/data\.pkl appears twice/],
    ['zip_overlap.pth', /entries archive\/data\.pkl and archive\/extra overlap/],
    ['zip_huge.pth', /entry archive\/\S+ \(4294967280 bytes\) runs past the archive's data/], // the last entry: version, or .data/serialization_id (torch 2.x)
    ['st_overlap.safetensors', /the data of 'a' \(bytes 0\.\.16\) overlaps that of 'b'/],
  ];
  for (const [file, reason] of cases) {
    it(file, async () => {
      const err = (await errorOf(() => native().readWeights(fx(file))));
      expect(err.message).toContain(basename(file));
      expect(err.message).toMatch(reason);
    });
  }

  it('a non-string path is a clear error', async () => {
    expect((await errorOf(() => (native().readWeights as (p: unknown) => unknown)(42))).message).toMatch(/path must be a string/);
  });
});

const hooks = testHooks();

describe.skipIf(!hooks)('loadStateDict (through the _testLoadStateDict hook)', () => {
  it('loads a torchvision-style state_dict; stateDict() order equals Python state_dict() order', async () => {
    const r = hooks!._testLoadStateDict(fx('ordered.pth'), 5);
    expect(r.error).toBeNull();
    expect(r.loaded).toEqual(expected.small.map((e) => e.name));
    expect(r.skipped).toEqual([]);
    expectEntries(r.state, expected.small);
  });

  it('loads from a .safetensors file as well', async () => {
    const out = fx('load.safetensors');
    await native().writeSafetensors(out, asInputs(await native().readWeights(fx('ordered.pth'))));
    const r = hooks!._testLoadStateDict(out, 5);
    expect(r.error).toBeNull();
    expectEntries(r.state, expected.small);
  });

  it('reports shape mismatches with both shapes and leaves the module unchanged', async () => {
    const r = hooks!._testLoadStateDict(fx('head7.pth'), 5);
    expect(r.error).toContain('head7.pth');
    expect(r.error).toContain('classifier.weight: file [7, 4], model [5, 4]');
    expect(r.error).toContain('classifier.bias: file [7], model [5]');
    expect(r.unchanged).toBe(true);
  });

  it('skips mismatched keys under skipPrefixes (a replaced head) and loads the rest', async () => {
    const r = hooks!._testLoadStateDict(fx('head7.pth'), 5, ['classifier.']);
    expect(r.error).toBeNull();
    expect(r.skipped).toEqual(['classifier.weight', 'classifier.bias']);
    expect(r.loaded).toEqual(expected.head7.map((e) => e.name).filter((n) => !n.startsWith('classifier.')));
    const features = expected.head7.filter((e) => !e.name.startsWith('classifier.'));
    expectEntries(r.state.filter((e) => !e.name.startsWith('classifier.')), features);
  });

  it('loads keys under skipPrefixes whose shapes match', async () => {
    const r = hooks!._testLoadStateDict(fx('ordered.pth'), 5, ['classifier.']);
    expect(r.error).toBeNull();
    expect(r.skipped).toEqual([]);
    expect(r.loaded).toContain('classifier.weight');
    expectEntries(r.state, expected.small);
  });

  it('lists every missing and unexpected key, truncating long lists', async () => {
    const r = hooks!._testLoadStateDict(fx('dtypes.pth'), 5);
    expect(r.unchanged).toBe(true);
    expect(r.error).toContain('7 missing key(s)');
    for (const k of ['features.0.weight', 'features.1.running_var', 'classifier.bias']) expect(r.error).toContain(k);
    expect(r.error).toContain('11 unexpected key(s)');
    for (const k of ['f16', 'bf16', 'flags', 'empty']) expect(r.error).toContain(`\n    ${k}`);

    const many = asInputs(await native().readWeights(fx('ordered.pth')));
    for (let i = 0; i < 25; i++) many.push({ name: `extra.${i}`, shape: [1], data: new Float32Array(1) });
    await native().writeSafetensors(fx('many.safetensors'), many);
    const m = hooks!._testLoadStateDict(fx('many.safetensors'), 5);
    expect(m.error).toContain('25 unexpected key(s)');
    expect(m.error).toContain('extra.19');
    expect(m.error).not.toContain('extra.20');
    expect(m.error).toContain('... and 5 more');
    expect(m.unchanged).toBe(true);
  });

  it('accepts older files without num_batches_tracked (the counter is reset to 0)', async () => {
    const entries = asInputs(await native().readWeights(fx('ordered.pth'))).filter((e) => !e.name.endsWith('num_batches_tracked'));
    await native().writeSafetensors(fx('no_nbt.safetensors'), entries);
    const r = hooks!._testLoadStateDict(fx('no_nbt.safetensors'), 5);
    expect(r.error).toBeNull();
    const nbt = r.state.find((e) => e.name === 'features.1.num_batches_tracked')!;
    expect(nbt.dtype).toBe('int64');
    expect(Array.from(nbt.data)).toEqual([0]);
  });
});

describe('fuzzing regression files (test/fixtures/fuzz/): each ends in a clear error', () => {
  const root = fileURLToPath(new URL('../fixtures/fuzz/', import.meta.url));
  const files = ['pth', 'safetensors'].flatMap((h) => (existsSync(join(root, h)) ? readdirSync(join(root, h)).map((f) => join(root, h, f)) : []));
  it('there are some', () => expect(files.length).toBeGreaterThan(0));
  for (const file of files) {
    it(basename(file), async () => {
      const err = await errorOf(() => native().readWeights(file));
      expect(err.message).toContain(basename(file));
    });
  }
});
