// `thtl-native demo`: the whole study on synthetic domains (lib/experiment/demo.ts). Its training
// flags are TRAIN_OPTIONS' with the demo's defaults.
import { join } from 'node:path';
import type { Command } from 'commander';

import { addTrainingFlags, parseFolds, positiveInt } from './options.js';
import { DEFAULT_DEMO, DEMO_MODEL, runDemo, type DemoOptions } from '../experiment/demo.js';
import { parseProtocols } from '../experiment/protocols.js';
import { interruptible } from '../util/interrupt.js';
import { consoleProgress, formatDuration } from '../util/progress.js';

/** tables.md without its per-table details blocks (mean ± std [interval]), for the terminal. */
export function mainTables(md: string): string {
  const out: string[] = [];
  let skip = false;
  for (const line of md.split('\n')) {
    if (line.startsWith('Details:')) skip = true;
    else if (line.startsWith('## ')) skip = false;
    if (!skip) out.push(line);
  }
  return out.join('\n');
}

export function registerDemoCommand(program: Command): void {
  const demo = program
    .command('demo')
    .description(`the whole study on synthetic domains: pretrain ${DEMO_MODEL} on a synthetic source, run protocols 1-4, SWFT and LoRA-SWFT, write tables and ROC figures`)
    .option('--out <dir>', 'output folder (data/, source-model/, study/ inside)', DEFAULT_DEMO.out)
    .option('--source <n>', 'synthetic source images (12 classes)', positiveInt('--source'), DEFAULT_DEMO.source)
    .option('--intermediate <n>', 'synthetic intermediate images (5 classes)', positiveInt('--intermediate'), DEFAULT_DEMO.intermediate)
    .option('--target <n>', 'synthetic target images (2 classes)', positiveInt('--target'), DEFAULT_DEMO.target)
    .option('--protocols <list>', 'protocols to run', (v: string) => parseProtocols(v), DEFAULT_DEMO.protocols)
    .option('--folds <k>', 'k-fold cross-validation of the target: every protocol once per fold (default: one 7:2:1 split)', parseFolds)
    .option('--image-size <px>', 'size of the generated images', positiveInt('--image-size'), DEFAULT_DEMO.imageSize)
    .option('--workers <n>', 'study units run at once, in child processes (the local executor)', positiveInt('--workers'))
    .option('--gpus <list>', 'GPU ids: study units run at once, one per GPU', (v: string) => v.split(',').map((g) => g.trim()).filter(Boolean));
  const trainingFlags = ['inputSize', 'epochs', 'patience', 'seed', 'threads', 'device', 'precision'] as const;
  addTrainingFlags(demo, trainingFlags, 'fill', Object.fromEntries(trainingFlags.map((name) => [name, { default: DEFAULT_DEMO[name] }])));
  demo.action(async (o: Partial<DemoOptions>) => {
    const r = await interruptible('run the same command again to go on where it stopped', (signal) => runDemo({ ...DEFAULT_DEMO, ...o }, consoleProgress(), { signal }));
    if (!r) return;
    process.stdout.write(`${mainTables(r.tablesMarkdown)}\n${r.comparisonsMarkdown.replace(/^# /, '## ')}\nreport (with std and 95% intervals): ${join(r.dir, 'report')}\nHTML report: ${r.html}\n`);
    if (r.cam) process.stdout.write(`LayerCAM figures: ${r.cam}\n`);
    process.stdout.write(`demo finished in ${formatDuration(r.seconds)}\n`);
  });
}
