// Temperature scaling of a trained run (`train --calibrate temperature`): one temperature
// T fitted on the validation images' predictions at the best epoch (the NLL of
// softmax(log p / T), lib/stats/calibration.ts fitTemperature), kept in the run folder as
// calibration.json, and applied by `evaluate` and `predict`. A run's predictions.csv and
// final.json keep the uncalibrated numbers; calibration.json reports the ECE before and
// after on the validation and test images.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { calibrationError, fitTemperature, logitsFromProbs, softmax, temperatureNll } from '../stats/calibration.js';
import type { Prediction } from './predictions.js';

export interface RunCalibration {
  method: 'temperature';
  temperature: number;
  /** the optimum lay at a bound of the search range [0.05, 20] */
  atBound: boolean;
  /** what T was fitted on */
  fittedOn: 'val';
  images: number;
  val: { nllBefore: number; nllAfter: number; eceBefore: number; eceAfter: number };
  /** null without a test split */
  test: { nllBefore: number; nllAfter: number; eceBefore: number; eceAfter: number; images: number } | null;
}

/** softmax(log p / T) of each row: the probabilities a temperature T makes of stored ones. */
export function scaleProbs(probs: readonly (readonly number[])[], temperature: number): number[][] {
  return logitsFromProbs(probs).map((row) => softmax(row.map((x) => x / temperature)));
}

function before(rows: readonly Prediction[], temperature: number) {
  const probs = rows.map((r) => r.probs);
  const labels = rows.map((r) => r.label);
  const logits = logitsFromProbs(probs);
  return {
    nllBefore: temperatureNll(logits, labels, 1),
    nllAfter: temperatureNll(logits, labels, temperature),
    eceBefore: calibrationError(probs, labels, { norm: 'l1' }),
    eceAfter: calibrationError(scaleProbs(probs, temperature), labels, { norm: 'l1' }),
  };
}

/** Fits T on the validation rows; the test rows are only measured. */
export function calibrateRun(val: readonly Prediction[], test: readonly Prediction[]): RunCalibration {
  if (val.length === 0) throw new Error('temperature scaling needs validation images, and this run has none');
  const fit = fitTemperature(logitsFromProbs(val.map((r) => r.probs)), val.map((r) => r.label));
  return {
    method: 'temperature',
    temperature: fit.temperature,
    atBound: fit.atBound,
    fittedOn: 'val',
    images: val.length,
    val: before(val, fit.temperature),
    test: test.length > 0 ? { ...before(test, fit.temperature), images: test.length } : null,
  };
}

/** The temperature of the run folder `dir` (its calibration.json), or null when it has none. */
export function runTemperature(dir: string): number | null {
  const path = join(dir, 'calibration.json');
  if (!existsSync(path)) return null;
  const c = JSON.parse(readFileSync(path, 'utf8')) as Partial<RunCalibration>;
  if (c.method !== 'temperature' || typeof c.temperature !== 'number' || !(c.temperature > 0))
    throw new Error(`${path} holds no positive temperature: the file is damaged`);
  return c.temperature;
}
