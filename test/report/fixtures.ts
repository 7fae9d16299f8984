// Hand-built RunRecords for the report tests: metrics come from real (tiny) predictions
// through classificationReport, so records are internally consistent.
import { expect } from 'vitest';

import type { RunRecord, Stage } from '../../lib/experiment/types.js';
import type { PaperTable } from '../../lib/report/tables.js';
import { classificationReport } from '../../lib/stats/metrics.js';

export const CLASSES = ['benign', 'malignant'];

/**
 * A test report from 10 samples (6 benign, 4 malignant) where `wrong` of the samples are
 * misclassified and the malignant scores spread so the ROC is non-trivial.
 */
export function testReport(wrong: number) {
  const labels = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1];
  const probs = labels.map((y, i) => {
    const flip = i < wrong; // the first `wrong` samples (benign) are called malignant
    const base = y === 1 ? 0.6 + 0.08 * (i - 6) : 0.1 + 0.05 * i;
    const p1 = Math.min(0.99, Math.max(0.01, flip ? 0.55 + 0.05 * i : base));
    return [1 - p1, p1];
  });
  return classificationReport(labels, probs, CLASSES);
}

export function record(
  stage: Stage,
  model: string,
  run: number,
  opts: { step?: number; wrong?: number; epochs?: number; valAccuracy?: number; seconds?: number; params?: number; classes?: string[] } = {},
): RunRecord {
  const r: RunRecord = {
    stage,
    model,
    run,
    seed: 1000 + run,
    classes: opts.classes ?? CLASSES,
    epochsRun: opts.epochs ?? 10 + run,
    bestEpoch: (opts.epochs ?? 10 + run) - 2,
    avgEpochSeconds: opts.seconds ?? 1.5 * run,
    valAccuracy: opts.valAccuracy ?? 0.7 + 0.01 * run,
    valLoss: 0.5,
    trainableParams: opts.params ?? 1000,
    totalParams: 5000,
    test: testReport(opts.wrong ?? run - 1),
    dir: `${stage}/${model}${opts.step === undefined ? '' : `/step${opts.step}`}/run${run}`,
  };
  if (opts.step !== undefined) r.step = opts.step;
  return r;
}

/**
 * 3 runs x 2 models for expt1, expt2, expt3, plusplus and plus; resnet50 also has SWFT /
 * LoRA steps 1..2 (records deliberately out of order). Test accuracies: vgg19 runs 1..3 =
 * 1.0, 0.9, 0.8 (mean 0.9, closest run 2); resnet50 = 1.0, 1.0, 0.7 (mean 0.9, closest run 1).
 */
export function study(): RunRecord[] {
  const out: RunRecord[] = [];
  for (const stage of ['expt1', 'expt2', 'expt3', 'plusplus', 'plus'] as const) {
    for (const model of ['vgg19', 'resnet50']) {
      for (const run of [1, 2, 3]) {
        const wrong = model === 'vgg19' ? run - 1 : [0, 0, 3][run - 1];
        // vgg19: epochs 12, 13, 14 (mean 13); resnet50: 11, 11, 12 (mean 11.33, shown as 12)
        out.push(record(stage, model, run, { wrong, epochs: model === 'vgg19' ? 11 + run : [11, 11, 12][run - 1] }));
      }
    }
  }
  for (const stage of ['swft', 'lora'] as const) {
    for (const step of [2, 1]) {
      for (const run of [3, 1, 2]) {
        out.push(record(stage, 'resnet50', run, { step, wrong: 3 - step + (run === 2 ? 1 : 0), params: step * 100 + (stage === 'lora' ? 7 : 0) }));
      }
    }
  }
  return out;
}

/** The summary of column `key` in the row labelled `label` (the row must exist). */
export function cell(t: PaperTable, label: string, key: string) {
  const row = t.rows.find((r) => r.label === label);
  expect(row, label).toBeDefined();
  return row!.metrics[key];
}
