// Output for scripts: `--json` (one JSON event per line on stdout, nothing else) and
// `--quiet` (nothing on stderr but errors) of `train` and `experiment`.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { makeTestStudy } from '../helpers/study.js';
import { runProcess, type ProcessResult } from '../helpers/process.js';
import { ROOT } from '../helpers/python.js';
import { tempDir, vesselFolder } from '../helpers/images.js';

const BIN = join(ROOT, 'bin', 'thtl-native.js');
const TINY = ['--epochs', '2', '--input-size', '32', '--batch-size', '8', '--device', 'cpu', '--threads', '1'];

type Event = Record<string, unknown> & { event: string };

function cli(args: string[]): Promise<ProcessResult> {
  return runProcess(process.execPath, [BIN, ...args]);
}

/** Every stdout line parsed as one JSON object (a line that is not one fails the test). */
function events(stdout: string): Event[] {
  const lines = stdout.split('\n');
  expect(lines.pop()).toBe(''); // ends with a newline
  return lines.map((l) => {
    const e = JSON.parse(l) as Event;
    expect(typeof e.event, l).toBe('string');
    return e;
  });
}

describe('train --json and --quiet', () => {
  const data = vesselFolder(15, 48);

  it('--json: stdout is the epoch events, then the result event; progress text stays on stderr', async () => {
    const out = join(tempDir('json'), 'run');
    const r = await cli(['train', '--model', 'resnet18', '--data', data, '--out', out, ...TINY, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const ev = events(r.stdout);
    expect(ev.map((e) => e.event)).toEqual(['epoch', 'epoch', 'result']);
    const metrics = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    ev.slice(0, 2).forEach((e, i) => {
      const m = metrics[i]!;
      expect(e).toEqual({ event: 'epoch', model: 'resnet18', epoch: i + 1, train_loss: m.train_loss, val_loss: m.val_loss, val_accuracy: m.val_accuracy, seconds: m.seconds, best: m.best });
    });
    const result = ev[2]!;
    const final = JSON.parse(readFileSync(join(out, 'final.json'), 'utf8')) as { test: { accuracy: number; confusion: number[][] } };
    expect(result).toMatchObject({ dir: out, classes: ['benign', 'malignant'], epochsRun: 2 });
    expect(result.bestEpoch).toBeOneOf([1, 2]);
    expect(result.test).toMatchObject({ accuracy: final.test.accuracy, confusion: final.test.confusion, n: 2 });
    expect(result.test).not.toHaveProperty('roc');
    expect(r.stderr).toMatch(/^epoch\s+2\s+train loss/m);
  });

  it('--quiet: nothing on stderr, the result text alone on stdout; with --json only events', async () => {
    const dir = tempDir('quiet');
    const q = await cli(['train', '--model', 'resnet18', '--data', data, '--out', join(dir, 'q'), ...TINY, '--epochs', '1', '--quiet']);
    expect(q.code, q.stderr).toBe(0);
    expect(q.stderr).toBe('');
    expect(q.stdout).toMatch(/^epochs run 1, best epoch 1, [\d.]+ s\/epoch$/m);
    expect(q.stdout).toContain(`run folder: ${join(dir, 'q')}`);
    expect(q.stdout).not.toMatch(/train loss/);

    const qj = await cli(['train', '--model', 'resnet18', '--data', data, '--out', join(dir, 'qj'), ...TINY, '--epochs', '1', '--quiet', '--json']);
    expect(qj.code, qj.stderr).toBe(0);
    expect(qj.stderr).toBe('');
    expect(events(qj.stdout).map((e) => e.event)).toEqual(['epoch', 'result']);

    // errors still reach stderr
    const bad = await cli(['train', '--model', 'resnet18', '--data', join(dir, 'missing'), '--out', join(dir, 'bad'), ...TINY, '--quiet', '--json']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/missing/);
    expect(bad.stdout).toBe('');
  });
});

describe('experiment --json', () => {
  it('unit events, epoch events with their unit (in this process and from local workers), the result last; a second run reuses the unit', async () => {
    const { config } = await makeTestStudy('json-study', { name: 'json study', experiments: [{ protocols: ['2'], models: ['resnet18'] }], images: 24, runs: 1, epochs: 1 });
    const out = tempDir('json-study-out');
    const r = await cli(['experiment', '--config', config, '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const ev = events(r.stdout);
    expect(ev.map((e) => e.event)).toEqual(['epoch', 'unit', 'result']);
    expect(ev[0]).toMatchObject({ event: 'epoch', model: 'resnet18', unit: 'resnet18.run-1.expt2', epoch: 1 });
    expect(ev[1]).toMatchObject({ event: 'unit', unit: 'resnet18.run-1.expt2', status: 'finished', dir: 'runs/resnet18/run-1/expt2' });
    expect(ev[2]).toMatchObject({ event: 'result', dir: out, report: join(out, 'report'), rows: 1 });
    expect(typeof ev[2]!.seconds).toBe('number');
    expect(r.stderr).toMatch(/train loss/);
    // one run per configuration: the report gives no interval
    expect(readFileSync(join(out, 'report', 'tables.md'), 'utf8')).toMatch(/\(n=1; interval n\/a\)/);
    // the study's model cards: report/model-cards.md links each run's model-card.md, relative to report/
    const cards = readFileSync(join(out, 'report', 'model-cards.md'), 'utf8');
    const links = [...cards.matchAll(/\]\(([^)]+)\)/g)].map((m) => decodeURI(m[1]!));
    expect(links).toEqual(['../runs/resnet18/run-1/expt2/model-card.md']);
    for (const l of links) expect(existsSync(join(out, 'report', l)), l).toBe(true);
    expect(cards).toMatch(/^## resnet18\\\^$/m);

    // the local executor, quiet: the child's epoch events come through with their unit; stderr stays empty
    const local = tempDir('json-study-local');
    const l = await cli(['experiment', '--config', config, '--out', local, '--json', '--quiet', '--workers', '2']);
    expect(l.code, l.stderr).toBe(0);
    expect(l.stderr).toBe('');
    const lev = events(l.stdout);
    expect(lev.map((e) => `${e.event}:${e.status ?? ''}`)).toEqual(['epoch:', 'unit:finished', 'result:']);
    expect(lev[0]).toMatchObject({ model: 'resnet18', unit: 'resnet18.run-1.expt2', epoch: 1, best: true });
    expect(lev[1]).toMatchObject({ unit: 'resnet18.run-1.expt2', dir: 'runs/resnet18/run-1/expt2' });
    expect(readFileSync(join(local, 'logs', 'resnet18.run-1.expt2.log'), 'utf8')).toMatch(/^\{"event":"result",/m);

    // again (--resume): the unit is reused, in this process and by the local executor
    for (const more of [[], ['--workers', '2']]) {
      const again = await cli(['experiment', '--config', config, '--out', local, '--json', '--quiet', '--resume', ...more]);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr).toBe('');
      const ev2 = events(again.stdout);
      expect(ev2.map((e) => `${e.event}:${e.status ?? ''}`), more.join(' ')).toEqual(['unit:reused', 'result:']);
      expect(ev2[0]).toMatchObject({ unit: 'resnet18.run-1.expt2', dir: 'runs/resnet18/run-1/expt2' });
    }
  }, 300_000);
});
