// The package as another project gets it: `npm pack`, then `npm install <tarball>` in an
// empty project outside the repository (its install step picks the prebuilt binary or
// builds one), then the CLI through npx and a tiny training run through the public API
// from a .mjs file. The README's "Use from another Node project" section is this test.
import { readdirSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { runProcess, type ProcessResult } from '../helpers/process.js';
import { ROOT } from '../helpers/python.js';
import { tempDir } from '../helpers/images.js';

// The project's own npm context (npm_config_*, npm_lifecycle_*) and test overrides stay out
// of the stranger's project.
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) || k === 'INIT_CWD' || k === 'THTL_ADDON' || k === 'NODE_OPTIONS' || k.startsWith('VITEST')) continue;
    env[k] = v;
  }
  return env;
}

const npm = (args: string[], cwd: string): Promise<ProcessResult> => runProcess('npm', args, { cwd, env: cleanEnv() });

const USE_IT = `
import { writeSynthDataset, trainRun, DEFAULT_TRAIN_CONFIG, addonPath } from 'thtl-native';

writeSynthDataset({ domain: 'target', n: 24, size: 40, seed: 1, out: 'data', format: 'png' });
const run = await trainRun({
  ...DEFAULT_TRAIN_CONFIG,
  model: 'resnet18', data: 'data', out: 'runs/r18',
  epochs: 1, batchSize: 8, inputSize: 32, device: 'cpu',
});
console.log(JSON.stringify({ addon: addonPath(), epochs: run.epochsRun, tested: run.test?.n, accuracy: run.test?.accuracy }));
`;

describe('npm package', () => {
  it('packs, installs into a fresh project, and runs doctor, models and a tiny train there', async () => {
    const packDir = tempDir('pack');
    const pack = await npm(['pack', '--pack-destination', packDir, '--json'], ROOT);
    expect(pack.code, pack.stderr).toBe(0);
    const [meta] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as { filename: string; size: number; files: { path: string }[] }[];
    const files = meta.files.map((f) => f.path);
    expect(files).toContain('dist/lib/api.js');
    expect(files).toContain('CMakeLists.txt');
    expect(files).toContain('scripts/install.mjs');
    expect(files.filter((f) => f.startsWith('src-native/')).length).toBeGreaterThan(20);
    for (const f of files) expect(f, 'only what an install needs').not.toMatch(/^(test|build|benchmarks|node_modules|\.cache)\//);
    const tarball = join(packDir, meta.filename);
    process.stderr.write(`[package] ${meta.filename}: ${(statSync(tarball).size / 1e6).toFixed(2)} MB packed, ${files.length} files\n`);

    const project = tempDir('project');
    // npm 11 runs a dependency's install step only when the project allows it (allowScripts,
    // keyed by what the dependency resolves to: its name from the registry, file:<path> here).
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'uses-thtl', version: '1.0.0', private: true, type: 'module', allowScripts: { [`file:${tarball}`]: true } }));
    const install = await npm(['install', '--no-audit', '--no-fund', '--prefer-offline', '--foreground-scripts', tarball], project);
    expect(install.code, install.stderr + install.stdout).toBe(0);
    const said = install.stdout + install.stderr;
    expect(said).toMatch(/thtl-native: (using the prebuilt binary|built .*thtl_native\.node)/);
    const pkg = join(project, 'node_modules', 'thtl-native');
    const binaries = [join(pkg, 'build', 'Release', 'thtl_native.node'), join(pkg, 'prebuilds', `${process.platform}-${process.arch}`, 'thtl-native.napi.node')];
    expect(binaries.some((b) => existsSync(b))).toBe(true);

    const doctor = await runProcess('npx', ['thtl-native', 'doctor'], { cwd: project, env: cleanEnv() });
    expect(doctor.code, doctor.stdout + doctor.stderr).toBe(0);
    expect(doctor.stdout).toMatch(/built against\s+LibTorch \d+\.\d+\.\d+/);
    expect(doctor.stdout).toMatch(/runs\s+LibTorch \d+\.\d+\.\d+/);
    expect(doctor.stdout).toContain(join(project, 'node_modules', 'thtl-native'));

    const models = await runProcess('npx', ['thtl-native', 'models'], { cwd: project, env: cleanEnv() });
    expect(models.code, models.stderr).toBe(0);
    const names = models.stdout.trim().split('\n').slice(1).map((l) => l.split(/\s+/)[0]);
    expect(names).toHaveLength(11);
    expect(names).toEqual(expect.arrayContaining(['resnet18', 'vit_b_16', 'maxvit_t', 'swin_v2_t', 'efficientnet_v2_s']));

    writeFileSync(join(project, 'use-it.mjs'), USE_IT);
    const used = await runProcess(process.execPath, ['use-it.mjs'], { cwd: project, env: cleanEnv() });
    expect(used.code, used.stderr).toBe(0);
    const out = JSON.parse(used.stdout.trim().split('\n').pop()!) as { addon: string; epochs: number; tested: number; accuracy: number };
    expect(out.addon.startsWith(pkg)).toBe(true);
    expect(out.epochs).toBe(1);
    expect(out.tested).toBeGreaterThan(0);
    expect(out.accuracy).toBeGreaterThanOrEqual(0);
    expect(readdirSync(join(project, 'runs', 'r18'))).toEqual(expect.arrayContaining(['final.json', 'metrics.jsonl', 'split.json']));
  });
});
