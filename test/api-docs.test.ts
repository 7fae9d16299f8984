// Every ```js example of docs/API.md runs, as written, against the built package: the
// import specifier 'thtl-native' is pointed at dist/lib/api.js, nothing else changes.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

import { runProcess } from './helpers/process.js';
import { tempDir } from './helpers/images.js';

const ROOT = join(import.meta.dirname, '..');
const API = pathToFileURL(join(ROOT, 'dist', 'lib', 'api.js')).href;
const doc = readFileSync(join(ROOT, 'docs', 'API.md'), 'utf8');
// each example: the first ```js block of a "## " section
const examples = doc
  .split(/^## /m)
  .slice(1)
  .flatMap((section) => {
    const m = /^```js\n([\s\S]*?)^```$/m.exec(section);
    return m ? [{ title: section.slice(0, section.indexOf('\n')), code: m[1]! }] : [];
  });

// what each example must print, so that an example that silently does nothing fails
const expected: Record<string, RegExp> = {
  // progress lines may arrive after the epoch's result: no order between the two
  'Train and evaluate with a Session': /^(?=[\s\S]*batch 2\/2 loss [\d.]+)(?=[\s\S]*train loss [\d.]+, 16 images evaluated)/,
  'Abort an epoch': /aborted: Session.trainEpoch: aborted\nbusy: null/,
  'Keep the event loop free while a model trains': /^(?=[\s\S]*while training: busy=trainEpoch)(?=[\s\S]*the session is busy with trainEpoch; await it first)(?=[\s\S]*the timer fired \d+ times)/,
  'A whole run, as `thtl-native train` does it': /best epoch \d, test accuracy [\d.]+/,
  'In a worker thread': /mobilenet_v2 made in a worker: 3 classes, \d+ parameters/,
};

describe('docs/API.md', () => {
  it('has the examples this test knows', () => {
    expect(examples.map((e) => e.title)).toEqual(Object.keys(expected));
  });

  for (const { title, code } of examples) {
    it(`example: ${title}`, async () => {
      const file = join(tempDir('api-doc'), 'example.mjs');
      writeFileSync(file, code.replaceAll("'thtl-native'", JSON.stringify(API)));
      const r = await runProcess(process.execPath, [file], { cwd: ROOT });
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(expected[title]!);
    });
  }
});
