// Property-based fuzzing (fast-check) of the formats read on the JavaScript side: CSV
// text, spreadsheets (.csv and .xlsx), split.json, study configs, dataset specs, lesion
// mappings, image headers and a run's metrics.jsonl (what resuming reads back). Whatever the bytes, each reader returns a value of its type
// or throws an Error whose message names the file; never an internal TypeError or
// RangeError ("cannot read properties of undefined"), a hang, or a crash.
// THTL_PROPERTY_RUNS=<n> sets the runs per property (CI: the default; a campaign: 100000).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { parseCsv } from '../../lib/data/csv.js';
import { readImageHeader } from '../../lib/data/image-header.js';
import { loadMapping } from '../../lib/data/lesions.js';
import { readSpecFile } from '../../lib/data/spec.js';
import { readSplitFile } from '../../lib/split/index.js';
import { readTable } from '../../lib/data/table.js';
import { readStudyConfig } from '../../lib/experiment/config-file.js';
import { RunFolder } from '../../lib/util/runfolder.js';

const RUNS = Number(process.env.THTL_PROPERTY_RUNS ?? 300);
const SEED = Number(process.env.THTL_PROPERTY_SEED ?? 20261201);
const dir = mkdtempSync(join(tmpdir(), 'thtl-formats-fuzz-'));
let counter = 0;

/** Writes `data` to a new file named with `ext` and returns its path. */
function file(data: string | Uint8Array, ext: string): string {
  const path = join(dir, `input-${counter++}${ext}`);
  writeFileSync(path, data);
  return path;
}

/**
 * The reader returns, or throws a plain Error naming the file (or, for a reader that
 * reports a reason the caller files under the file, `namesFile` false: any plain Error);
 * anything else fails the property.
 */
async function cleanOutcome(path: string, read: () => unknown, namesFile = true): Promise<void> {
  try {
    await read();
  } catch (err) {
    expect(err).toBeInstanceOf(Error);
    const e = err as Error;
    expect(e.constructor.name, `${e.constructor.name}: ${e.message}`).toBe('Error');
    if (namesFile) expect(e.message, e.message).toContain(path);
  }
}

const options = { numRuns: RUNS, seed: SEED, endOnFailure: true } as const;

// Text near the real formats: JSON values, strings with the characters that matter.
const jsonText = fc.oneof(
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.string({ unit: fc.constantFrom('{', '}', '[', ']', '"', ':', ',', 'a', '1', '-', 'e', '.', ' ', '\n', '\\', 'n', 'u', 'l') }),
);
const csvText = fc.string({ unit: fc.constantFrom('a', 'b', ',', ';', '\t', '"', '\n', '\r', ' ', '1', '\ufeff', 'é') });

/** A valid split.json with one field replaced by an arbitrary JSON value. */
function splitVariant(): fc.Arbitrary<string> {
  const base = {
    version: 1,
    dataset: '/data',
    seed: 1,
    classes: ['benign', 'malignant'],
    ratios: [0.6, 0.2, 0.2],
    remainder: 'train',
    groupBy: null,
    train: [{ file: '/nonexistent/a.jpg', label: 0 }],
    val: [],
    test: [],
  } as Record<string, unknown>;
  return fc.tuple(fc.constantFrom(...Object.keys(base), 'extra'), fc.jsonValue()).map(([key, value]) => JSON.stringify({ ...base, [key]: value }));
}

describe('JS-side formats under arbitrary input (fast-check)', () => {
  it('parseCsv: any text gives records or a CSV error; quoted cells round-trip', () => {
    fc.assert(
      fc.property(csvText, (text) => {
        try {
          const records = parseCsv(text);
          for (const r of records) for (const c of r) expect(typeof c).toBe('string');
        } catch (err) {
          expect((err as Error).constructor.name).toBe('Error');
          expect((err as Error).message).toMatch(/^CSV: /);
        }
      }),
      options,
    );
    const cell = fc.string({ unit: fc.constantFrom('a', ',', '"', '\n', ' ', 'ü') });
    fc.assert(
      fc.property(fc.array(fc.array(cell, { minLength: 2, maxLength: 4 }), { minLength: 1, maxLength: 5 }), (rows) => {
        const width = rows[0]!.length;
        const table = rows.map((r) => [...r, ...Array(Math.max(0, width - r.length)).fill('')].slice(0, width));
        const text = table.map((r) => r.map((c) => `"${c.replace(/"/g, '""')}"`).join(',')).join('\n');
        expect(parseCsv(text, ',')).toEqual(table);
      }),
      options,
    );
  });

  it('readTable: arbitrary .csv text and arbitrary .xlsx bytes', async () => {
    await fc.assert(
      fc.asyncProperty(csvText, async (text) => {
        const path = file(text, '.csv');
        await cleanOutcome(path, () => readTable(path));
      }),
      { ...options, numRuns: Math.min(RUNS, 150) },
    );
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), async (bytes) => {
        // Sometimes a zip signature first, so the reader goes past the first check.
        const data = bytes.length > 4 && bytes[0]! % 2 === 0 ? new Uint8Array([0x50, 0x4b, 0x03, 0x04, ...bytes]) : bytes;
        const path = file(data, '.xlsx');
        await cleanOutcome(path, () => readTable(path));
      }),
      { ...options, numRuns: Math.min(RUNS, 100) },
    );
  });

  it('readSplitFile: arbitrary JSON, and valid files with one field replaced', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(jsonText, splitVariant()), async (text) => {
        const path = file(text, '.json');
        await cleanOutcome(path, () => readSplitFile(path));
      }),
      options,
    );
  });

  it('readStudyConfig, readSpecFile and lesion mappings: arbitrary JSON', async () => {
    const study = fc.tuple(fc.constantFrom('name', 'runs', 'seed', 'experiments', 'recipe', 'target', 'lora', 'out'), fc.jsonValue()).map(([k, v]) => JSON.stringify({ [k]: v }));
    const spec = fc.tuple(fc.constantFrom('imagefolder', 'manifest', 'cenbi', 'cenbi-folders', 'dr', 'other'), fc.dictionary(fc.constantFrom('root', 'csv', 'sheet', 'images', 'columns', 'mapping', 'labels'), fc.jsonValue())).map(([kind, rest]) => JSON.stringify({ kind, ...rest }));
    await fc.assert(
      fc.asyncProperty(fc.oneof(jsonText, study, spec), async (text) => {
        const path = file(text, '.json');
        await cleanOutcome(path, () => readStudyConfig(path));
        await cleanOutcome(path, () => readSpecFile(path));
        await cleanOutcome(path, () => loadMapping(path));
      }),
      options,
    );
  });

  it('RunFolder.readJsonLines (metrics.jsonl): arbitrary lines, and whole lines cut anywhere', async () => {
    const line = fc.oneof(fc.jsonValue().map((v) => JSON.stringify(v)), jsonText);
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 6 }), fc.nat(), async (lines, cut) => {
        const run = new RunFolder(join(dir, `run-${counter++}`));
        const text = lines.map((l) => `${l.replace(/\n/g, ' ')}\n`).join('');
        writeFileSync(run.path('metrics.jsonl'), text.slice(0, text.length === 0 ? 0 : cut % (text.length + 1)));
        await cleanOutcome(run.path('metrics.jsonl'), () => run.readJsonLines('metrics.jsonl'));
      }),
      options,
    );
  });

  // readImageHeader gives the reason; `data inspect` lists it under the file.
  it('readImageHeader: arbitrary bytes, and JPEG/PNG signatures followed by arbitrary bytes', async () => {
    const head = fc.constantFrom(new Uint8Array([]), new Uint8Array([0xff, 0xd8, 0xff]), new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    await fc.assert(
      fc.asyncProperty(head, fc.uint8Array({ maxLength: 200 }), async (h, rest) => {
        const path = file(new Uint8Array([...h, ...rest]), '.jpg');
        await cleanOutcome(path, () => readImageHeader(path), false);
      }),
      options,
    );
  });
});
