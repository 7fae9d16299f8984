// `thtl-native synth`: write a synthetic domain (target-, intermediate- or
// source-like) as a real ImageFolder of JPEG/PNG files. See lib/synth/.
import { resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';

import { consoleProgress, eta, formatDuration } from '../util/progress.js';
import { integer } from './options.js';
import { DEFAULT_TWIST, SYNTH_DOMAINS, type SynthDatasetResult, type SynthDomain, type SynthFormat, synthClasses, writeSynthDataset } from '../synth/write.js';

interface SynthFlags {
  domain: SynthDomain;
  n: number;
  size: number;
  seed: number;
  out: string;
  format: SynthFormat;
  twist?: number;
  quiet: boolean;
}

const DOMAIN_HELP: Record<SynthDomain, string> = {
  target: 'CE-NBI-like vessels: benign (smooth, branching) vs malignant (tangled, looped)',
  intermediate: 'DR-like fundus photos, radial vessels from the optic disc, severity 0-4 marked by lesions',
  source: 'generic textures and shapes (stripes, checker, dots, ...), for pretraining without ImageNet',
  bridge: 'fundus-coloured vessels whose geometry is --twist (0 radial from a disc, 1 tortuous), for validating probe',
};

function twistValue(v: string): number {
  const t = Number(v);
  if (v.trim() === '' || !Number.isFinite(t) || t < 0 || t > 1) throw new InvalidArgumentError(`--twist must be a number in [0, 1], got '${v}'`);
  return t;
}

const print = (text: string): void => void process.stdout.write(text);

function summary(r: SynthDatasetResult, o: SynthFlags, seconds: number): string {
  const width = Math.max(5, ...r.classes.map((c) => c.name.length));
  const row = (a: string, b: string | number, c: string | number): string => `  ${a.padEnd(width)}${String(b).padStart(8)}${String(c).padStart(9)}\n`;
  const rate = r.written > 0 && seconds > 0 ? `, ${(r.written / seconds).toFixed(1)} images/s` : '';
  return [
    `synth ${r.domain}: ${r.files} images of ${o.size}x${o.size} (${o.format}, seed ${o.seed}${r.domain === 'bridge' ? `, twist ${o.twist ?? DEFAULT_TWIST}` : ''}) in ${resolve(o.out)}\n`,
    row('class', 'images', 'written'),
    ...r.classes.map((c) => row(c.name, c.images, c.written)),
    row('total', r.files, r.written),
    `${r.written} written, ${r.files - r.written} already there; ${seconds.toFixed(1)}s${rate}\n`,
  ].join('');
}

function runSynth(o: SynthFlags): void {
  const progress = consoleProgress(process.stderr, o.quiet);
  const t0 = performance.now();
  const elapsed = (): number => (performance.now() - t0) / 1000;
  const r = writeSynthDataset({
    domain: o.domain, n: o.n, size: o.size, seed: o.seed, out: o.out, format: o.format,
    ...(o.twist !== undefined ? { twist: o.twist } : {}),
    onProgress: (done, total) => progress.status(`synth ${o.domain}: ${done}/${total} images, ETA ${formatDuration(eta(elapsed(), done, total))}`),
  });
  if (process.stderr.isTTY && !o.quiet) process.stderr.write('\r\x1b[2K'); // clear the live status line
  print(summary(r, o, elapsed()));
}

export function registerSynthCommand(program: Command): Command {
  const domains = SYNTH_DOMAINS.map((d) => `  ${d.padEnd(14)}${DOMAIN_HELP[d]}\n  ${''.padEnd(14)}classes: ${synthClasses(d).join(', ')}`).join('\n');
  return program
    .command('synth')
    .description('write a deterministic synthetic dataset (ImageFolder of JPEG/PNG files, balanced over the classes)')
    .addOption(new Option('--domain <domain>', 'which domain to draw').choices([...SYNTH_DOMAINS]).makeOptionMandatory())
    .requiredOption('--n <n>', 'images in total, spread evenly over the classes', integer('--n', 1))
    .option('--size <px>', 'image side in pixels', integer('--size', 8, 4096), 224)
    .option('--seed <k>', 'seed: the same options give byte-identical files', integer('--seed', 0, 0xffffffff), 123)
    .requiredOption('--out <dir>', 'output folder (class subfolders are created; existing files are kept, so a rerun resumes)')
    .addOption(new Option('--format <fmt>', 'image file format').choices(['jpg', 'png']).default('jpg'))
    .option('--twist <t>', `bridge domain only: vessel geometry from 0 (radial) to 1 (twisted); default ${DEFAULT_TWIST}`, twistValue)
    .option('--quiet', 'no progress line', false)
    .addHelpText('after', `\nDomains:\n${domains}\n`)
    .action((o: SynthFlags) => runSynth(o));
}
