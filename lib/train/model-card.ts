// model-card.md beside a run's weights: what the model was trained on (classes, images
// and patients per split), how (the recipe), how well (test metrics with 95% bootstrap
// intervals, clustered by patient where the data has patients; calibration), with what
// software, and the headings an author fills in (intended use, limitations), as model
// cards for medical imaging ask. The study report's model-cards.md (lib/report/model-cards.ts)
// shares the data, recipe and trained-part text below.
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { native } from '../../binding/index.js';
import type { SplitEntry, SplitFile } from '../split/file.js';
import { bootstrapRun, type ScoredImage } from '../stats/bootstrap.js';
import { brierScore, calibrationError, multiclassBrier } from '../stats/calibration.js';
import type { ClassificationReport } from '../stats/metrics.js';
import type { TrainConfig } from './config.js';
import type { Prediction } from './predictions.js';
import type { RunCalibration } from './temperature.js';

export interface ModelCardInput {
  cfg: Pick<TrainConfig, 'model' | 'epochs' | 'batchSize' | 'seed' | 'precision' | 'channelsLast' | 'weights' | 'headOnly' | 'trainableGroups' | 'lora' | 'patience' | 'monitor' | 'data' | 'splitFile'>;
  lr: number;
  inputSize: number;
  split: SplitFile;
  epochsRun: number;
  bestEpoch: number;
  trainableParams: number;
  totalParams: number;
  test: ClassificationReport | null;
  /** the test images' predictions at the best epoch (empty without a test split) */
  testPredictions: readonly Prediction[];
  /** temperature scaling, when the run fitted one */
  calibration?: RunCalibration | null;
}

const fixed = (x: number | null | undefined, digits = 4): string => (x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits));

/** The addon's package version and the repository commit, where they can be read. */
function softwareVersions(): { addon: string; commit: string } {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const pkgPath = [join(root, 'package.json'), join(root, '..', 'package.json')].find(existsSync);
  let addon = 'unknown';
  if (pkgPath) {
    try {
      addon = (JSON.parse(readFileSync(pkgPath, 'utf8')) as { version?: string }).version ?? 'unknown';
    } catch {
      // leave it unknown
    }
  }
  let commit = 'unknown (not a git checkout)';
  const gitDir = [join(root, '.git'), join(root, '..', '.git')].find(existsSync);
  if (gitDir) {
    try {
      const head = readFileSync(join(gitDir, 'HEAD'), 'utf8').trim();
      const ref = /^ref: (.*)$/.exec(head)?.[1];
      const refPath = ref ? join(gitDir, ref) : null;
      commit = ref ? (refPath && existsSync(refPath) ? readFileSync(refPath, 'utf8').trim() : `${ref} (packed)`) : head;
    } catch {
      // leave it unknown
    }
  }
  return { addon, commit };
}

/** The card's data section: dataset, classes in label order, how the split was made, and images (patients) per split and class. */
export function dataSection(dataset: string, split: SplitFile): string[] {
  return [
    `Dataset: ${dataset}. Classes (label order): ${split.classes.map((name, k) => `${k} = ${name}`).join(', ')}${split.ordinal ? ' (ordinal: graded labels)' : ''}.`,
    `Split: ${split.ratios.length > 0 ? `ratios ${split.ratios.join('/')}, seed ${split.seed}` : 'given folders'}${split.groupBy ? `, grouped by ${split.groupBy} (no patient in two splits)` : ', by image'}.`,
    '',
    ...splitRows(split),
  ];
}

/** A run's config.json: precisionRequested 'auto' where --precision auto chose precision and channelsLast. */
type RecipeSettings = Pick<TrainConfig, 'epochs' | 'batchSize' | 'seed' | 'precision' | 'channelsLast' | 'patience' | 'monitor'> & { precisionRequested?: string };

/** "input 224x224 px, batch 32, Adam lr 0.001, at most 30 epochs, early stopping on val_loss (patience 5), seed 1, precision fp32"; without the seed when `seed` is false. */
export function recipeText(c: RecipeSettings, lr: number, inputSize: number, seed = true): string {
  return (
    `input ${inputSize}x${inputSize} px, batch ${c.batchSize}, Adam lr ${lr}, at most ${c.epochs} epochs, early stopping on ${c.monitor} (patience ${c.patience})` +
    `${seed ? `, seed ${c.seed}` : ''}, precision ${c.precision}${c.channelsLast ? ', channels_last' : ''}` +
    (c.precisionRequested === 'auto' ? ' (chosen by precision auto for the model and machine)' : '')
  );
}

/** Which parameters the run trained: "every layer", "the classification head only", "groups ...", "LoRA ...". */
export function trainedPart(c: Pick<TrainConfig, 'headOnly' | 'trainableGroups' | 'lora'>): string {
  return c.trainableGroups ? `groups ${c.trainableGroups.join(', ')}` : c.lora ? `LoRA rank ${c.lora.rank} alpha ${c.lora.alpha} on ${c.lora.groups.join(', ')}` : c.headOnly ? 'the classification head only' : 'every layer';
}

function splitRows(split: SplitFile): string[] {
  const parts: [string, readonly SplitEntry[]][] = [['train', split.train], ['val', split.val], ['test', split.test]];
  const patients = (entries: readonly SplitEntry[]): string => {
    const groups = new Set(entries.map((e) => e.group).filter((g): g is string => g !== undefined && g !== ''));
    return groups.size > 0 ? String(groups.size) : 'n/a';
  };
  const header = `| split | images | patients | ${split.classes.join(' | ')} |`;
  const rule = `|---|---:|---:|${split.classes.map(() => '---:').join('|')}|`;
  const rows = parts.map(([name, entries]) => `| ${name} | ${entries.length} | ${patients(entries)} | ${split.classes.map((_, k) => entries.filter((e) => e.label === k).length).join(' | ')} |`);
  return [header, rule, ...rows];
}

function testSection(o: ModelCardInput): string[] {
  if (!o.test) return ['No test split: this run was trained on an intermediate domain; its validation metrics are in final.json.'];
  const images: ScoredImage[] = o.testPredictions.map((p) => ({ file: p.file, group: p.group, label: p.label, probs: p.probs }));
  const boot = images.length > 0 ? bootstrapRun(images, o.split.classes.length) : null;
  const iv = (k: 'accuracy' | 'macroF1' | 'auc'): string => {
    const i = boot?.intervals[k];
    return i ? `${fixed(i.estimate)} [${fixed(i.lo)}, ${fixed(i.hi)}]` : 'n/a';
  };
  const probs = o.testPredictions.map((p) => p.probs);
  const labels = o.testPredictions.map((p) => p.label);
  const binary = o.split.classes.length === 2;
  const lines = [
    `Test images: ${images.length}. 95% intervals: percentile bootstrap, ${boot ? `${boot.replicates} replicates over ${boot.clusters} ${boot.by === 'patient' ? 'patients (images of one patient move together)' : 'images'}` : 'none'}.`,
    '',
    '| metric | value [95% interval] |',
    '|---|---|',
    `| accuracy | ${iv('accuracy')} |`,
    `| macro F1 | ${iv('macroF1')} |`,
    `| AUC${binary ? ` (${o.split.classes[1]} vs ${o.split.classes[0]})` : ' (macro one-vs-rest)'} | ${iv('auc')} |`,
    '',
    '| class | precision | recall (sensitivity) | F1 | images |',
    '|---|---:|---:|---:|---:|',
    ...o.test.perClass.map((c) => `| ${c.name} | ${fixed(c.precision)} | ${fixed(c.recall)} | ${fixed(c.f1)} | ${c.support} |`),
    '',
    '## Calibration (test split)',
    '',
    probs.length > 0
      ? [
          `- expected calibration error (15 equal-width bins of the top-label confidence): ${fixed(calibrationError(probs, labels, { norm: 'l1' }))}`,
          `- maximum calibration error: ${fixed(calibrationError(probs, labels, { norm: 'max' }))}`,
          binary ? `- Brier score (${o.split.classes[1]}): ${fixed(brierScore(probs, labels))}` : `- Brier score (multiclass, sum over classes): ${fixed(multiclassBrier(probs, labels))}`,
        ].join('\n')
      : 'No test predictions.',
    ...(o.calibration
      ? [
          `- temperature scaling (calibration.json, applied by evaluate and predict): T = ${fixed(o.calibration.temperature)} fitted on ${o.calibration.images} validation images; ` +
            `ECE on the test split ${o.calibration.test ? `${fixed(o.calibration.test.eceBefore)} -> ${fixed(o.calibration.test.eceAfter)}` : 'n/a (no test split)'}`,
        ]
      : []),
  ];
  return lines;
}

/** The Markdown of a run's model card. */
export function modelCard(o: ModelCardInput): string {
  const info = native().info();
  const versions = softwareVersions();
  const c = o.cfg;
  const trained = trainedPart(c);
  return [
    `# Model card: ${c.model} (${o.split.classes.join(' / ')})`,
    '',
    'Written by thtl-native at the end of the run; the headings marked *to fill* are for the author.',
    '',
    '## Intended use (*to fill*)',
    '',
    'Who should use this model, for which decision, on which patients and images; what it must not be used for.',
    '',
    '## Data',
    '',
    ...dataSection(c.splitFile ?? c.data, o.split),
    '',
    '## Training',
    '',
    `- model: ${c.model} (${o.totalParams.toLocaleString('en-US')} parameters, ${o.trainableParams.toLocaleString('en-US')} trained: ${trained})`,
    `- initial weights: ${c.weights ?? 'random initialisation'}`,
    `- ${recipeText(c, o.lr, o.inputSize)}`,
    `- ${o.epochsRun} epochs run; weights of epoch ${o.bestEpoch} (the best by ${c.monitor})`,
    '',
    '## Test metrics',
    '',
    ...testSection(o),
    '',
    '## Limitations (*to fill*)',
    '',
    'Known failure modes, populations and devices not represented in the data, how the labels were made and how sure they are.',
    '',
    '## Software',
    '',
    `- thtl-native ${versions.addon}, commit ${versions.commit}`,
    `- LibTorch ${info.torchVersion}${info.cudaBuilt ? ` (CUDA ${info.cudaVersion})` : ' (CPU)'}`,
    `- batch norm + activation when training on the CPU: ${info.fusedBatchNorm.on ? `the fused kernels (${info.fusedBatchNorm.isa})` : "LibTorch's separate kernels"}`,
    `- Node.js ${process.version}, trained on ${hostname()}`,
    '',
  ].join('\n');
}
