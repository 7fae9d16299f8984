// Reliability diagrams: one per configuration (a row of Tables 3, 4 and 6: stage, model
// and step), from the test predictions of all its runs pooled (predictions.csv test
// rows). Top-label confidence in 15 equal-width bins (lib/stats/calibration.ts,
// reliabilityBins): a bar per non-empty bin at the bin's accuracy against the dashed
// diagonal of perfect calibration, the bin counts as a small histogram underneath, and the
// pooled ECE in the title. Confidences of exactly 1 have a slot of their own ([1, 1], as in
// calibrationError); when it holds images it is drawn as one more bar right of 1. Drawn with
// Vega-Lite and rendered headless to SVG, as the ROC figures are.
import type { TopLevelSpec } from 'vega-lite';

import { stageRow, tableStages } from '../experiment/protocols.js';
import type { RunRecord, Stage } from '../experiment/types.js';
import { calibrationError, reliabilityBins, type ReliabilityBin } from '../stats/calibration.js';
import { FIGURE_CONFIG, fileSafe, renderVegaLiteSvg, unitAxis } from './roc.js';
import { configLabel, groupRuns } from './tables.js';
import { CALIBRATION_BINS, type TestPredictions } from './test-predictions.js';

export interface ReliabilityFigure {
  /** file stem without "reliability-": <stage>-<model>, <stage>-<model>-step<k> */
  name: string;
  stage: Stage;
  model: string;
  step: number | null;
  /** the configuration as the text names it: `resnet50**`, `resnet50++ step 2 (LoRA)` */
  label: string;
  title: string;
  subtitle: string[];
  /** run folders pooled, in run order */
  runs: string[];
  images: number;
  /** ECE of the pooled predictions */
  ece: number;
  /** reliabilityBins of the pooled predictions: 15 bins, then the slot [1, 1] */
  bins: ReliabilityBin[];
}

export interface ReliabilityOptions {
  modelOrder?: readonly string[];
  /** shown under each figure's title */
  title?: string;
}

/**
 * One figure per configuration of Tables 3, 4 and 6 (in table order) whose runs have test
 * predictions; runs without predictions.csv are left out of the pool, a configuration with
 * none is left out.
 */
export function buildReliabilityFigures(records: readonly RunRecord[], predictions: TestPredictions, opts: ReliabilityOptions = {}): ReliabilityFigure[] {
  const figures: ReliabilityFigure[] = [];
  const names = new Set<string>();
  for (const table of ['table3', 'table4', 'table6'] as const) {
    for (const g of groupRuns(records, tableStages(table), opts.modelOrder)) {
      const pooled = g.records.flatMap((r) => (r.test ? [{ r, images: predictions.get(r) ?? [] }] : [])).filter((x) => x.images.length > 0);
      if (pooled.length === 0) continue;
      const classes = pooled[0]!.r.classes.length;
      const used = pooled.filter((x) => x.r.classes.length === classes);
      const probs = used.flatMap((x) => x.images.map((i) => i.probs));
      const labels = used.flatMap((x) => x.images.map((i) => i.label));
      const name = `${g.stage}-${fileSafe(g.model)}${g.step === null ? '' : `-step${g.step}`}`;
      if (names.has(name)) continue;
      names.add(name);
      const ece = calibrationError(probs, labels, { bins: CALIBRATION_BINS });
      const label = configLabel(g);
      const row = stageRow(g.stage);
      figures.push({
        name,
        stage: g.stage,
        model: g.model,
        step: g.step,
        label,
        title: `Reliability: ${label} (ECE ${ece.toFixed(3)})`,
        subtitle: [
          // short lines: headless Vega estimates text widths generously, and the widest line sets the figure's width
          `${row ? `${row.expt.startsWith('#') ? `Expt.${row.expt}` : row.expt}: ` : ''}${probs.length} test images, ${used.length} run${used.length === 1 ? '' : 's'} pooled`,
          `top-label confidence, ${CALIBRATION_BINS} equal-width bins`,
          ...(opts.title ? [opts.title] : []),
        ],
        runs: used.map((x) => x.r.dir),
        images: probs.length,
        ece,
        bins: reliabilityBins(probs, labels, CALIBRATION_BINS),
      });
    }
  }
  return figures;
}

/** Where a bin is drawn: its own edges; the slot of confidence exactly 1 one bin width right of 1. */
function span(b: ReliabilityBin): { x: number; x2: number } {
  return b.lo === 1 && b.hi === 1 ? { x: 1, x2: 1 + 1 / CALIBRATION_BINS } : { x: b.lo, x2: b.hi };
}

/** The Vega-Lite specification: the diagram (360 x 300 px) over the histogram of bin counts (360 x 80 px). */
export function reliabilitySpec(fig: Pick<ReliabilityFigure, 'bins' | 'title' | 'subtitle'>): TopLevelSpec {
  const nonEmpty = fig.bins.filter((b) => b.count > 0);
  const exactOne = nonEmpty.some((b) => b.lo === 1 && b.hi === 1);
  const values = nonEmpty.map((b) => ({ ...span(b), zero: 0, accuracy: b.accuracy, confidence: b.confidence, count: b.count, gap: b.confidence - b.accuracy }));
  const domain = [0, exactOne ? 1 + 1 / CALIBRATION_BINS : 1];
  const x = (title: string | null) => ({
    field: 'x',
    type: 'quantitative',
    scale: { domain, nice: false, zero: true },
    axis: { title, values: [0, 0.2, 0.4, 0.6, 0.8, 1], format: '.1f', grid: true },
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: fig.title, subtitle: exactOne ? [...fig.subtitle, 'bar right of 1: confidence exactly 1'] : fig.subtitle },
    background: 'white',
    padding: 12,
    config: FIGURE_CONFIG,
    spacing: 6,
    vconcat: [
      {
        width: 360,
        height: 300,
        layer: [
          {
            name: 'accuracy',
            data: { values },
            mark: { type: 'rect', color: '#4c78a8', stroke: '#ffffff', strokeWidth: 1 },
            encoding: {
              x: x(null),
              x2: { field: 'x2' },
              y: { field: 'zero', type: 'quantitative', scale: { domain: [0, 1], nice: false, zero: true }, axis: unitAxis('Accuracy') },
              y2: { field: 'accuracy' },
            },
          },
          {
            name: 'diagonal',
            data: { values: [{ x: 0, y: 0 }, { x: 1, y: 1 }] },
            mark: { type: 'line', color: '#888888', strokeDash: [5, 4], strokeWidth: 1 },
            encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' } },
          },
        ],
      },
      {
        width: 360,
        height: 80,
        name: 'histogram',
        data: { values },
        mark: { type: 'rect', color: '#9d9d9d', stroke: '#ffffff', strokeWidth: 1 },
        encoding: {
          x: x('Confidence (top-label probability)'),
          x2: { field: 'x2' },
          y: { field: 'zero', type: 'quantitative', axis: { title: 'Images', tickCount: 3, format: 'd' } },
          y2: { field: 'count' },
        },
      },
    ],
  } as TopLevelSpec;
}

/** SVG text of one figure, rendered headless by Vega (the same figure gives the same bytes); `evaluate` draws its one figure with it too. */
export async function renderReliabilitySvg(fig: Pick<ReliabilityFigure, 'bins' | 'title' | 'subtitle'>): Promise<string> {
  return renderVegaLiteSvg(reliabilitySpec(fig));
}

/** Alt text of a figure in the HTML report. */
export function reliabilityAlt(fig: ReliabilityFigure): string {
  const shown = fig.bins.filter((b) => b.count > 0).length;
  return `reliability diagram of ${fig.label}: ECE ${fig.ece.toFixed(3)}, ${fig.images} test images of ${fig.runs.length} run(s) in ${shown} non-empty bin(s)`;
}
