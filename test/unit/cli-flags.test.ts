// Every numeric training flag is checked while the command line is parsed, the same way
// in each command that takes it, before any file is read (the dataset paths below do not
// exist: the flag must be what fails).
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';

import { buildCli } from '../../lib/cli.js';
import { RECIPE_OPTIONS } from '../../lib/experiment/study-config.js';
import { TRAIN_OPTIONS, TRAIN_OPTION_NAMES, specOf } from '../../lib/train/config.js';

function quiet(cmd: Command): Command {
  cmd.exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  for (const sub of cmd.commands) quiet(sub);
  return cmd;
}

async function parse(args: string[]): Promise<{ code?: string; message: string } | null> {
  try {
    await quiet(buildCli()).parseAsync(args, { from: 'user' });
    return null;
  } catch (e) {
    return e as { code?: string; message: string };
  }
}

const base: Record<string, string[]> = {
  train: ['train', '--model', 'resnet18', '--data', '/nonexistent/data', '--out', '/nonexistent/run'],
  experiment: ['experiment', '--protocol', '1', '--models', 'resnet18', '--target', '/nonexistent/data', '--out', '/nonexistent/study'],
  reproduce: ['reproduce', '--config', '/nonexistent/config.json'],
  demo: ['demo', '--out', '/nonexistent/demo'],
};

// flag -> values it must refuse
const bad: Record<string, string[]> = {
  '--epochs': ['0', '-1', '2.5', 'abc', ''],
  '--batch-size': ['0', '1.5', 'x'],
  '--lr': ['0', '-0.1', 'abc', 'NaN'],
  '--input-size': ['0', '16', '64.5', 'big'],
  '--patience': ['0', '-1', '1.5', 'x'],
  '--min-delta': ['-0.1', 'x'],
  '--threads': ['-1', 'two'],
  '--seed': ['-1', '1.5'],
};

const takes: Record<string, string[]> = {
  train: ['--epochs', '--batch-size', '--lr', '--input-size', '--patience', '--min-delta', '--threads', '--seed'],
  experiment: ['--epochs', '--batch-size', '--lr', '--input-size', '--patience', '--threads', '--seed'],
  reproduce: ['--epochs', '--batch-size', '--lr', '--input-size', '--patience', '--threads', '--seed'],
  demo: ['--epochs', '--input-size', '--patience', '--threads', '--seed'],
};

describe('training flags', () => {
  for (const [command, flags] of Object.entries(takes)) {
    for (const flag of flags) {
      it(`${command} ${flag} refuses ${bad[flag]!.map((v) => `'${v}'`).join(', ')}`, async () => {
        for (const value of bad[flag]!) {
          const err = await parse([...base[command]!, flag, value]);
          expect(err, `${command} ${flag} ${value}`).not.toBeNull();
          expect(err!.code).toBe('commander.invalidArgument');
          expect(err!.message).toContain(flag);
        }
      });
    }
  }

  it('train --split takes two or three ratios summing to 1', async () => {
    for (const value of ['0.7', '0.5,0.6', '0.7,0.2,0.2', '0.7,-0.2,0.5', '0.25,0.25,0.25,0.25'])
      expect((await parse([...base.train!, '--split', value]))?.message).toMatch(/--split must be two \(train,val\) or three/);
  });

  it('train --val and --test come together; the library names the options, the command line the flags', async () => {
    expect((await parse([...base.train!, '--val', '/nonexistent/val']))?.message).toBe('--val and --test must be given together');
    expect((await parse([...base.train!, '--test', '/nonexistent/test']))?.message).toBe('--val and --test must be given together');
    expect((await parse([...base.train!, '--input-size', '16']))?.message).toContain("--input-size must be an integer >= 32, got '16'");
  });

  it('experiment --target-split takes three ratios and --intermediate-split two', async () => {
    expect((await parse([...base.experiment!, '--target-split', '0.7,0.3']))?.message).toMatch(/--target-split must be three/);
    expect((await parse([...base.experiment!, '--intermediate-split', '0.7,0.2,0.1']))?.message).toMatch(/--intermediate-split must be two/);
    expect((await parse([...base.experiment!, '--runs', '0']))?.message).toMatch(/--runs must be a positive integer/);
    expect((await parse([...base.experiment!, '--lora-rank', '2.5']))?.message).toMatch(/--lora-rank must be a positive integer/);
    expect((await parse([...base.experiment!, '--steps', '1,x']))?.message).toMatch(/--steps must be a positive integer/);
  });

  it('good values get through the parser to the command (which then fails on the missing data)', async () => {
    const err = await parse([...base.train!, '--epochs', '3', '--lr', '1e-4', '--split', '0.8,0.2', '--seed', '0']);
    expect(err?.code).toBeUndefined();
    expect(err?.message).toMatch(/nonexistent/);
  });

  it('one declaration per training flag: help texts name the defaults of the config', () => {
    const train = buildCli().commands.find((c) => c.name() === 'train')!;
    const experiment = buildCli().commands.find((c) => c.name() === 'experiment')!;
    for (const name of TRAIN_OPTION_NAMES) {
      const spec = specOf(name);
      if (!spec.flag) continue;
      const long = spec.flag.split(' ')[0]!;
      const inTrain = train.options.find((o) => o.long === long);
      expect(inTrain, long).toBeDefined();
      // a study's --seed is its base seed (run r trains with a seed derived from it): its own flag
      const inExperiment = (RECIPE_OPTIONS as readonly string[]).includes(name) ? experiment.options.find((o) => o.long === long) : undefined;
      for (const o of [inTrain, inExperiment]) if (o) expect(o.description.startsWith(spec.help.split(' (')[0]!.split(':')[0]!)).toBe(true);
      if (spec.default !== undefined && spec.flag.includes('<') && inExperiment) expect(inExperiment.description).toContain(`(default: ${String(spec.default)})`);
    }
  });

  it('--precision takes auto in every command that has it, and its help says what auto picks', () => {
    const cli = buildCli();
    for (const name of ['train', 'experiment', 'reproduce', 'plan', 'demo']) {
      const option = cli.commands.find((c) => c.name() === name)!.options.find((o) => o.long === '--precision');
      expect(option, name).toBeDefined();
      expect(option!.argChoices).toEqual(['fp32', 'bf16', 'fp16', 'auto']);
      expect(option!.description).toMatch(/auto: bf16 \+ channels_last for convolutional models .* else fp32/);
    }
  });

  it('the library names the option, the command line the flag', async () => {
    const err = await parse([...base.train!, '--epochs', '0']);
    expect(err?.message).toMatch(/--epochs must be a positive integer, got '0'/);
    expect(TRAIN_OPTIONS.epochs.check(0)).toBe('must be a positive integer');
  });
});
