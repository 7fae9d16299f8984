// The test rows of each run's predictions.csv, read once per report: the statistics
// (comparisons.ts), the calibration and graded-label columns of the tables (tables.ts) and
// the reliability diagrams (reliability.ts) share one TestPredictions, so a run folder's
// file is parsed once however many of them use it.
import { join } from 'node:path';

import type { RunRecord } from '../experiment/types.js';
import type { ScoredImage } from '../stats/bootstrap.js';
import { brierScore, calibrationError, multiclassBrier } from '../stats/calibration.js';
import { gradedMetrics } from '../stats/metrics.js';
import { readPredictions } from '../train/predictions.js';

/** Equal-width bins of the report's ECE and reliability diagrams. */
export const CALIBRATION_BINS = 15;

/** Calibration of one run's test predictions. */
export interface RunCalibration {
  /** top-label expected calibration error, 15 equal-width bins (calibrationError) */
  ece: number;
  /** two classes: brierScore (the positive class, scikit-learn's brier_score_loss); more: multiclassBrier (sum form) */
  brier: number;
}

/** ECE and Brier of a set of test images (at least one) of a task with `numClasses` classes. */
export function calibrationOf(images: readonly ScoredImage[], numClasses: number): RunCalibration {
  const probs = images.map((i) => i.probs);
  const labels = images.map((i) => i.label);
  return {
    ece: calibrationError(probs, labels, { bins: CALIBRATION_BINS }),
    brier: numClasses === 2 ? brierScore(probs, labels) : multiclassBrier(probs, labels),
  };
}

/** Metrics of graded (ordinal) labels on one run's test predictions. */
export interface RunGraded {
  /** quadratic weighted kappa of the predicted class (argmax) against the true one over class indices 0..K-1; NaN when undefined */
  kappa: number;
  /** one-vs-rest AUC per class index; NaN for a class absent from the test rows */
  ovrAuc: number[];
}

/** Quadratic weighted kappa and per-class one-vs-rest AUC of a set of test images (at least one) of a task with `numClasses` classes. */
export function gradedOf(images: readonly ScoredImage[], numClasses: number): RunGraded {
  return gradedMetrics(
    images.map((i) => i.probs),
    images.map((i) => i.label),
    numClasses,
  );
}

/** The test predictions of a study folder's run folders, each file read at most once. */
export class TestPredictions {
  private readonly images = new Map<string, ScoredImage[] | null>();
  private readonly errors = new Map<string, string>();
  private readonly calibration = new Map<string, RunCalibration | null>();
  private readonly graded = new Map<string, RunGraded | null>();

  constructor(readonly studyDir: string) {}

  /** The test rows of `r`'s predictions.csv; null when it cannot be read (see error()). */
  get(r: RunRecord): ScoredImage[] | null {
    if (!this.images.has(r.dir)) {
      try {
        const rows = readPredictions(join(this.studyDir, r.dir, 'predictions.csv'), r.classes).filter((p) => p.split === 'test');
        this.images.set(r.dir, rows.map((p) => ({ file: p.file, group: p.group, label: p.label, probs: p.probs })));
      } catch (err) {
        this.errors.set(r.dir, (err as Error).message);
        this.images.set(r.dir, null);
      }
    }
    return this.images.get(r.dir)!;
  }

  /** Why the run folder's predictions could not be read (after get()); undefined when they could. */
  error(dir: string): string | undefined {
    return this.errors.get(dir);
  }

  /** ECE and Brier of the run's test predictions; null without predictions or test rows. */
  calibrationOf(r: RunRecord): RunCalibration | null {
    return this.once(this.calibration, r, calibrationOf);
  }

  /** Kappa and per-class one-vs-rest AUC of the run's test predictions; null without predictions or test rows. */
  gradedOf(r: RunRecord): RunGraded | null {
    return this.once(this.graded, r, gradedOf);
  }

  /** `measure` of the run's test rows, computed once per run folder; null without predictions or test rows. */
  private once<T>(cache: Map<string, T | null>, r: RunRecord, measure: (images: readonly ScoredImage[], numClasses: number) => T): T | null {
    if (!cache.has(r.dir)) {
      const images = this.get(r);
      cache.set(r.dir, images && images.length > 0 ? measure(images, r.classes.length) : null);
    }
    return cache.get(r.dir)!;
  }
}
