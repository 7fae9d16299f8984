// `thtl-native data inspect|split`: look at a dataset and write a split.json
// without training. See docs/DATASETS.md.
import { Command, Option } from 'commander';

import { type LoadedDataset, loadDataset } from '../data/dataset.js';
import { formatInspect, inspectDataset, inspectDatasetDecoded } from '../data/inspect.js';
import { DEFAULT_TRAIN_CONFIG, specOf } from '../train/config.js';
import { consoleProgress } from '../util/progress.js';
import { LabelVariantsError } from '../data/labels.js';
import { writeJsonAtomic } from '../util/runfolder.js';
import { nonNegativeInt, ratios } from './options.js';
import {
  DEFAULT_SPLIT_SEED, type SplitFile, type SplitItem, type SplitName, type SplitResult, checkClassSizes, checkNoLeaks, defaultRemainder, groupSplit, stratifiedSplit,
  toEntries, writeSplitFile,
} from '../split/index.js';

interface LoadFlags {
  mapping?: string;
  skipBadImages: boolean;
  labelNormalize: boolean;
}

interface SplitFlags extends LoadFlags {
  ratios: number[];
  remainder?: SplitName;
  seed: number;
  groupBy?: 'patient';
  out: string;
}

async function load(spec: string, o: LoadFlags): Promise<LoadedDataset> {
  try {
    return await loadDataset(spec, { skipBad: o.skipBadImages, labelNormalize: o.labelNormalize, ...(o.mapping !== undefined ? { mapping: o.mapping } : {}) });
  } catch (err) {
    throw err instanceof LabelVariantsError ? new Error(err.withMerge('--label-normalize')) : err;
  }
}

const print = (text: string): void => void process.stdout.write(text);

function splitTable(ds: LoadedDataset, split: SplitResult<SplitItem>, names: readonly SplitName[]): string {
  const width = Math.max(5, ...ds.classes.map((c) => c.length));
  const row = (label: string, cells: (string | number)[]): string => `  ${label.padEnd(width)}${cells.map((c) => String(c).padStart(8)).join('')}`;
  const count = (name: SplitName, label?: number): number => split[name].filter((it) => label === undefined || it.label === label).length;
  const lines = [row('class', [...names, 'total'])];
  ds.classes.forEach((c, i) => lines.push(row(c, [...names.map((n) => count(n, i)), names.reduce((a, n) => a + count(n, i), 0)])));
  lines.push(row('total', [...names.map((n) => count(n)), names.reduce((a, n) => a + count(n), 0)]));
  return `${lines.join('\n')}\n`;
}

async function runSplit(spec: string, o: SplitFlags): Promise<void> {
  const ds = await load(spec, o);
  const options = { ratios: o.ratios, seed: o.seed, ...(o.remainder ? { remainder: o.remainder } : {}) };
  const names = (['train', 'val', 'test'] as const).slice(0, o.ratios.length);
  if (o.groupBy && !ds.items.some((it) => it.group !== undefined))
    print(`warning: ${ds.name} has no patient ids; every image is its own group (an image-level split)\n`);
  checkClassSizes(ds.items, ds.classes, o.ratios.length);
  const grouped = o.groupBy ? groupSplit(ds.items, options) : undefined;
  const split = grouped ?? stratifiedSplit(ds.items, options);
  const file: SplitFile = {
    version: 1,
    dataset: ds.name,
    seed: o.seed,
    ratios: o.ratios,
    remainder: o.remainder ?? defaultRemainder(o.ratios),
    groupBy: o.groupBy ?? null,
    classes: ds.classes,
    ...(ds.ordinal ? { ordinal: true } : {}),
    train: toEntries(split.train),
    val: toEntries(split.val),
    test: toEntries(split.test),
    ...(grouped ? { achieved: grouped.achieved } : {}),
    ...(ds.skipped.length > 0 ? { skipped: ds.skipped } : {}),
  };
  checkNoLeaks(file);
  writeSplitFile(o.out, file);
  const how = o.groupBy ? 'by patient' : 'by image';
  print(`split of ${ds.name} (${ds.items.length} images, seed ${o.seed}, ratios ${o.ratios.join('/')}, remainder ${file.remainder}, ${how})\n`);
  print(splitTable(ds, split, names));
  if (grouped) {
    print(`  ${'groups'.padEnd(Math.max(5, ...ds.classes.map((c) => c.length)))}${names.map((n) => String(grouped.groups[n]).padStart(8)).join('')}\n`);
    print('achieved ratios:\n');
    for (const a of grouped.achieved)
      print(`  ${(ds.classes[a.label] ?? String(a.label)).padEnd(10)}${names.map((n) => a.ratios[n].toFixed(3).padStart(8)).join('')}\n`);
  }
  if (ds.skipped.length > 0) print(`skipped ${ds.skipped.length} bad entries (listed in ${o.out})\n`);
  print(`wrote ${o.out}\n`);
}

interface InspectFlags extends LoadFlags {
  report?: string;
  decode: boolean;
  threads: number;
}

async function runInspect(spec: string, o: InspectFlags): Promise<void> {
  const ds = await load(spec, o);
  const progress = consoleProgress();
  const report = o.decode
    ? await inspectDatasetDecoded(ds, { threads: o.threads, onProgress: (done, total) => progress.status(`decoding: ${done}/${total} images`) })
    : inspectDataset(ds);
  print(formatInspect(report));
  if (o.report) {
    writeJsonAtomic(o.report, report);
    print(`wrote ${o.report}\n`);
  }
  // a CI check: the dataset is fit for training only when every image decodes
  if (o.decode && report.unreadable.length > 0)
    throw new Error(`${report.unreadable.length} of ${report.total} images cannot be read or decoded (listed above)`);
}

const LABEL_NORMALIZE_HELP = specOf('labelNormalize').help;
const SPEC_HELP = 'a dataset folder (ImageFolder, or CE-NBI class/lesion folders with --mapping), a .csv manifest or DR trainLabels.csv, or a .json spec';

export function registerDataCommands(program: Command): Command {
  const data = program.command('data').description('inspect datasets and write train/val/test splits (see docs/DATASETS.md)');
  data
    .command('inspect')
    .description('print classes, images per class and per group, image sizes, and missing or unreadable files')
    .argument('<spec>', SPEC_HELP)
    .option('--mapping <file>', 'JSON lesion -> benign/malignant mapping (CE-NBI)')
    .option('--skip-bad-images', 'drop missing, unmapped, duplicate or undecodable entries and list them instead of failing', false)
    .option('--label-normalize', LABEL_NORMALIZE_HELP, false)
    .option('--report <file>', 'also write the full report (every unreadable and skipped entry) as JSON')
    .option('--decode', 'also decode every image in full, as training does (slower); exits 1 when any image cannot be read or decoded', false)
    .option('--threads <n>', 'decode threads for --decode (0 = all cores)', nonNegativeInt('--threads'), 0)
    .action((spec: string, o: InspectFlags) => runInspect(spec, o));
  data
    .command('split')
    .description('write split.json: seeded, stratified per class (val = floor(ratio n), ...), optionally keeping patients together')
    .argument('<spec>', SPEC_HELP)
    .addOption(new Option('--ratios <r>', 'train,val[,test] ratios').argParser(ratios('--ratios')).default(DEFAULT_TRAIN_CONFIG.split, DEFAULT_TRAIN_CONFIG.split.join(',')))
    .addOption(new Option('--remainder <split>', 'split that absorbs rounding (default train for 3 ratios, val for 2)').choices(['train', 'val', 'test']))
    .option('--seed <n>', 'split seed', nonNegativeInt('--seed'), DEFAULT_SPLIT_SEED)
    .addOption(new Option('--group-by <unit>', 'keep every patient in one split (reports achieved ratios)').choices(['patient']))
    .option('--mapping <file>', 'JSON lesion -> benign/malignant mapping (CE-NBI)')
    .option('--skip-bad-images', 'drop bad entries (listed in split.json under "skipped") instead of failing', false)
    .option('--label-normalize', LABEL_NORMALIZE_HELP, false)
    .requiredOption('--out <file>', 'split.json to write')
    .action((spec: string, o: SplitFlags) => runSplit(spec, o));
  return data;
}
