// The registry holds every per-model fact (input size, learning rate, groups, CAM layers,
// ImageNet weight file, normalisation): adding a model is one family file under
// src-native/models/ plus its registry rows. Outside those, code names a model only
// where it chooses one (the demo trains resnet18); comments may name any.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

import { native } from '../../binding/index.js';
import { imagenetWeightFiles } from '../../lib/models/index.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CHOOSES_A_MODEL = new Set(['lib/experiment/demo.ts']);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return /\.(ts|mts|cc|h)$/.test(name) ? [path] : [];
  });
}

/** The code of a C++/TS file without its comments (line comments and block comments). */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

describe('registry', () => {
  const models = native().models();

  it('holds the ImageNet weight file and normalisation of every model', () => {
    for (const m of models) {
      expect(m.imagenetWeights, m.name).toMatch(/^[a-z0-9_]+-[0-9a-f]{8}\.pth$/);
      expect(m.mean).toEqual([0.485, 0.456, 0.406]);
      expect(m.std).toEqual([0.229, 0.224, 0.225]);
    }
    expect(Object.keys(imagenetWeightFiles())).toEqual(models.map((m) => m.name));
  });

  it('is the only place outside src-native/models/ whose code names a model', () => {
    const names = models.map((m) => m.name);
    const offenders: string[] = [];
    for (const dir of ['lib', 'binding', 'src-native']) {
      for (const file of sources(join(ROOT, dir))) {
        const rel = relative(ROOT, file);
        if (rel.startsWith('src-native/models/') || CHOOSES_A_MODEL.has(rel)) continue;
        const text = code(readFileSync(file, 'utf8'));
        for (const name of names) if (new RegExp(`\\b${name}\\b`).test(text)) offenders.push(`${rel}: ${name}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
