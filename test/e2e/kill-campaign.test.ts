// Crash consistency: `train`, `experiment` and a decode-cache build are SIGKILLed at
// seeded random moments, again and again, each attempt resuming the one before. After
// every kill no file is truncated or half-written (every JSON file parses, every
// JSON-lines line is whole, every checkpoint ends in its checksum trailer); once the last
// attempt finishes, the results equal an uninterrupted run's.
// THTL_KILL_POINTS kills per command (the test suite: 4; `npm run kill-campaign`: 30),
// THTL_KILL_SEED the seed.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { native } from '../../binding/index.js';
import { collectRecords } from '../../lib/experiment/study-folder.js';
import { Rng } from '../../lib/util/rng.js';
import { readImageFolder } from '../../lib/data/imagefolder.js';
import { runProcess } from '../helpers/process.js';
import { ROOT } from '../helpers/python.js';
import { tempDir, vesselFolder } from '../helpers/images.js';
import { makeTestStudy } from '../helpers/study.js';

const BIN = join(ROOT, 'bin', 'thtl-native.js');
const POINTS = Number(process.env.THTL_KILL_POINTS ?? 4);
const SEED = Number(process.env.THTL_KILL_SEED ?? 20261201);

/** Runs `args` (node arguments), SIGKILLing it after `ms`; true when the kill landed before it ended. */
function killedAfter(args: string[], ms: number, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: 'ignore', env });
    let landed = false;
    const timer = setTimeout(() => {
      landed = child.exitCode === null;
      child.kill('SIGKILL');
    }, ms);
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      resolve(landed);
    });
  });
}

/** Every file under `dir` is whole: JSON parses, JSON-lines lines are whole JSON, checkpoints end in their trailer. */
function expectWhole(dir: string): void {
  expect(existsSync(dir), `${dir} exists`).toBe(true);
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name.includes('.tmp-')) continue; // a write in progress; removed by the next attempt
    if (statSync(path).isDirectory()) {
      expectWhole(path);
    } else if (name.endsWith('.json')) {
      expect(() => JSON.parse(readFileSync(path, 'utf8')), path).not.toThrow();
    } else if (name.endsWith('.jsonl')) {
      const text = readFileSync(path, 'utf8');
      expect(text === '' || text.endsWith('\n'), `${path} ends in a whole line`).toBe(true);
      for (const line of text.split('\n').filter(Boolean)) expect(() => JSON.parse(line), path).not.toThrow();
    } else if (name.endsWith('.ckpt')) {
      const bytes = readFileSync(path);
      expect(bytes.subarray(bytes.length - 24, bytes.length - 16).toString(), `${path} ends in its checksum trailer`).toBe('THTLSUM1');
    }
  }
}

/**
 * Kills the command at random moments in (0.15 s, 0.15 s + span) until POINTS kills have
 * landed, in rounds: each round starts from a fresh folder (`round(i)` gives the folder and
 * the command), and resumes attempt after attempt until one finishes by itself; after every
 * kill the folder holds only whole files, and every finished round is checked by
 * `verify`. Returns the number of rounds.
 */
async function campaign(round: (i: number) => { folder: string; args: string[] }, span: number, verify: (folder: string) => void | Promise<void>, seed: number, env?: NodeJS.ProcessEnv): Promise<number> {
  const rng = new Rng(seed);
  let landed = 0;
  let rounds = 0;
  while (landed < POINTS) {
    const { folder, args } = round(rounds++);
    while (landed < POINTS && (await killedAfter(args, 150 + rng.nextFloat() * span, env))) {
      landed++;
      if (existsSync(folder)) expectWhole(folder); // a kill before the command made its folder leaves none
    }
    const last = await runProcess(process.execPath, args, { env }); // finishes, or reuses what finished
    expect(last.code, last.stderr).toBe(0);
    expectWhole(folder);
    await verify(folder);
  }
  return rounds;
}

const timed = async (args: string[], env?: NodeJS.ProcessEnv) => {
  const t0 = Date.now();
  const r = await runProcess(process.execPath, args, { env });
  expect(r.code, r.stderr).toBe(0);
  return Date.now() - t0;
};

/** A JSON file's value without its wall-clock fields (keys naming seconds) and run folders. */
const untimed = (path: string): unknown =>
  JSON.parse(readFileSync(path, 'utf8'), (key, value: unknown) => (/seconds/i.test(key) || key === 'dir' ? undefined : value));

const withoutTime = (path: string) =>
  readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => {
      const { seconds: _, ...rest } = JSON.parse(l) as Record<string, unknown>;
      return rest;
    });

describe(`kill campaign (${POINTS} SIGKILLs per command, seed ${SEED})`, () => {
  it('train: every kill leaves whole files; the resumed run ends like an uninterrupted one', async () => {
    const data = vesselFolder(16, 48);
    const flags = ['--model', 'resnet18', '--epochs', '3', '--input-size', '32', '--batch-size', '4', '--device', 'cpu', '--no-cache', '--patience', '10', '--threads', '1'];
    const straight = join(tempDir('kill-train-a'), 'run');
    const span = await timed([BIN, 'train', '--data', data, '--out', straight, ...flags]);
    const final = (dir: string) => {
      const { avgEpochSeconds: _, dir: __, ...f } = JSON.parse(readFileSync(join(dir, 'final.json'), 'utf8')) as Record<string, unknown>;
      return f;
    };
    const rounds = await campaign(
      (i) => {
        const out = join(tempDir(`kill-train-${i}`), 'run');
        return { folder: out, args: [BIN, 'train', '--data', data, '--out', out, ...flags, '--resume'] };
      },
      span,
      (out) => {
        expect(withoutTime(join(out, 'metrics.jsonl'))).toEqual(withoutTime(join(straight, 'metrics.jsonl')));
        expect(final(out)).toEqual(final(straight));
      },
      SEED,
    );
    process.stdout.write(`kill campaign train: ${POINTS} kills in ${rounds} round(s) (an uninterrupted run takes ${span} ms)\n`);
  });

  describe('experiment', () => {
    let config = '';
    beforeAll(async () => {
      ({ config } = await makeTestStudy('kill-study-data', {
        name: 'kill campaign',
        experiments: [{ protocols: ['4', 'swft'], models: ['resnet18'], steps: [2] }],
        images: 30,
        runs: 1,
        epochs: 2,
      }));
    });

    it('every kill leaves whole files; the resumed study ends with the same tables', async () => {
      const straight = tempDir('kill-study-a');
      const span = await timed([BIN, 'reproduce', '--config', config, '--out', straight]);
      const results = (dir: string) => collectRecords(dir).records.map(({ avgEpochSeconds: _, ...r }) => r);
      const rounds = await campaign(
        (i) => {
          const out = tempDir(`kill-study-${i}`);
          return { folder: out, args: [BIN, 'reproduce', '--config', config, '--out', out, '--resume'] };
        },
        span,
        (out) => {
          expect(results(out)).toEqual(results(straight));
          // the tables, but for the wall-clock columns (Table 5's time per epoch)
          expect(untimed(join(out, 'report', 'tables.json'))).toEqual(untimed(join(straight, 'report', 'tables.json')));
        },
        SEED + 1,
      );
      process.stdout.write(`kill campaign experiment: ${POINTS} kills in ${rounds} round(s) (an uninterrupted study takes ${span} ms)\n`);
    });
  });

  it('decode cache: every kill leaves a cache that the next build completes to the same pixels', async () => {
    const files = readImageFolder(vesselFolder(60, 64)).items.map((i) => i.file);
    const script = join(tempDir('kill-cache-script'), 'build.mjs');
    writeFileSync(
      script,
      `const { native } = await import(${JSON.stringify(join(ROOT, 'dist', 'binding', 'index.js'))});
      await native().ImageSet.build(${JSON.stringify(files)}, 48, { cacheDir: process.argv[2], threads: 2 });`,
    );
    const env = { ...process.env, THTL_TEST_DECODE_DELAY_MS: '5' };
    const span = await timed([script, tempDir('kill-cache-a')], env);
    const fresh = await native().ImageSet.build(files, 48);
    const rounds = await campaign(
      (i) => {
        const cacheDir = tempDir(`kill-cache-${i}`);
        return { folder: cacheDir, args: [script, cacheDir] };
      },
      span,
      async (cacheDir) => {
        // complete: everything reused, the same pixels as a fresh decode
        const cached = await native().ImageSet.build(files, 48, { cacheDir });
        expect(cached.stats().decoded).toBe(0);
        for (let i = 0; i < files.length; i++) expect(Buffer.from(cached.pixels(i)).equals(Buffer.from(fresh.pixels(i))), files[i]).toBe(true);
      },
      SEED + 2,
      env,
    );
    process.stdout.write(`kill campaign decode cache: ${POINTS} kills in ${rounds} round(s) (an uninterrupted build takes ${span} ms)\n`);
  });
});
