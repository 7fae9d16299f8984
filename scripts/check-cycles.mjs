#!/usr/bin/env node
// Reports import cycles among lib/**/*.ts (relative imports, `import type` and dynamic
// `import()` included: a cycle through any of them is still a cycle in the layout).
// Usage: node scripts/check-cycles.mjs [dir]  (default lib); exits 1 when there is one.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(process.argv[2] ?? 'lib');
const files = [];
const walk = (d) => {
  for (const f of readdirSync(d)) {
    const p = join(d, f);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) files.push(p);
  }
};
walk(root);

const importRe = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g;
const edges = new Map();
for (const f of files) {
  const out = new Set();
  for (const m of readFileSync(f, 'utf8').matchAll(importRe)) {
    const target = resolve(dirname(f), m[1].replace(/\.js$/, '.ts'));
    if (target.startsWith(root + '/') && existsSync(target)) out.add(target);
  }
  edges.set(f, [...out]);
}

// Tarjan's strongly connected components: every component with more than one file (or a
// file importing itself) is a cycle.
let index = 0;
const idx = new Map(), low = new Map(), onStack = new Set(), stack = [], cycles = [];
const strong = (v) => {
  idx.set(v, index); low.set(v, index); index++;
  stack.push(v); onStack.add(v);
  for (const w of edges.get(v) ?? []) {
    if (!idx.has(w)) { strong(w); low.set(v, Math.min(low.get(v), low.get(w))); }
    else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
  }
  if (low.get(v) === idx.get(v)) {
    const comp = [];
    let w;
    do { w = stack.pop(); onStack.delete(w); comp.push(w); } while (w !== v);
    if (comp.length > 1 || (edges.get(v) ?? []).includes(v)) cycles.push(comp);
  }
};
for (const f of files) if (!idx.has(f)) strong(f);

const rel = (p) => relative(process.cwd(), p);
if (cycles.length === 0) {
  console.log(`no import cycles among ${files.length} files in ${rel(root) || '.'}`);
} else {
  for (const c of cycles) console.log(`cycle: ${c.map(rel).sort().join(' <-> ')}`);
  process.exitCode = 1;
}
