// ROC figures (the paper's Fig. 5): one figure per experiment with one curve per
// model, and for SWFT / LoRA one figure per model with one curve per step. Each curve is
// the test ROC of the run whose test accuracy is closest to its group's mean test
// accuracy (the paper: "we select the run that is closest to the mean test accuracy").
// Drawn with Vega-Lite (compiled to Vega, rendered headless to SVG), then rasterised to
// PNG with sharp. Text uses "DejaVu Sans" (fonts-dejavu-core), so the PNG is the same on
// every machine with that font; nothing depends on the clock.
import sharp from 'sharp';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

import { stageRow, stageRows } from '../experiment/protocols.js';
import type { RunRecord, Stage } from '../experiment/types.js';
import { groupRuns, orderModels } from './tables.js';

export const FONT_FAMILY = 'DejaVu Sans';

/** The Vega-Lite config the ROC and reliability figures share: the font and its sizes (the ROC figures add their legend's). */
export const FIGURE_CONFIG = {
  font: FONT_FAMILY,
  title: { fontSize: 14, subtitleFontSize: 12 },
  axis: { labelFontSize: 11, titleFontSize: 12 },
};

/** An axis of a quantity from 0 to 1 (five ticks, one decimal, with a grid), as the ROC and reliability figures draw it. */
export function unitAxis(title: string) {
  return { title, tickCount: 5, format: '.1f', grid: true };
}

/** Two accuracies closer than this count as a tie (then the lower run index wins). */
const TIE_EPS = 1e-12;

/**
 * The run to draw: test accuracy closest to the mean test accuracy of all `records`
 * (ties: lowest run index). Only runs with a ROC curve (binary, both classes in the test
 * set) are eligible; null when none has one.
 */
export function selectRocRun(records: readonly RunRecord[]): RunRecord | null {
  if (records.length === 0) return null;
  const tested = records.filter((r) => r.test !== null);
  if (tested.length === 0) return null;
  const mean = tested.reduce((a, r) => a + r.test!.accuracy, 0) / tested.length;
  let best: RunRecord | null = null;
  let bestDist = Infinity;
  for (const r of [...records].sort((a, b) => a.run - b.run)) {
    if (!r.test?.roc) continue;
    const d = Math.abs(r.test.accuracy - mean);
    if (d < bestDist - TIE_EPS) {
      best = r;
      bestDist = d;
    }
  }
  return best;
}

export interface RocCurveEntry {
  /** legend text, e.g. "resnet50 (AUC 0.974)" */
  label: string;
  model: string;
  step: number | null;
  /** the chosen run */
  run: number;
  seed: number;
  dir: string;
  accuracy: number;
  /** mean test accuracy of the group the run was chosen from */
  meanAccuracy: number;
  /** runs in the group */
  groupSize: number;
  /** AUC of the chosen run */
  auc: number;
  fpr: number[];
  tpr: number[];
}

export interface RocFigure {
  /** file stem without "roc-": expt1, expt2, expt3, plusplus, swft-<model>, lora-<model> */
  name: string;
  stage: Stage;
  /** set for the per-model SWFT / LoRA figures */
  model: string | null;
  title: string;
  /** lines under the title: what the experiment is, then the report title if given */
  subtitle: string[];
  curves: RocCurveEntry[];
}

export interface RocOptions {
  modelOrder?: readonly string[];
  /** shown under each figure's title */
  title?: string;
}

/** A file-name-safe form of a model name. */
export function fileSafe(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '-');
}

/** Trapezoidal area under (fpr, tpr); used only if a record lacks its AUC. */
function trapezoid(fpr: readonly number[], tpr: readonly number[]): number {
  let a = 0;
  for (let i = 1; i < fpr.length; i++) a += (((fpr[i] as number) - (fpr[i - 1] as number)) * ((tpr[i] as number) + (tpr[i - 1] as number))) / 2;
  return a;
}

function curveOf(records: readonly RunRecord[], name: string, model: string, step: number | null): RocCurveEntry | null {
  const chosen = selectRocRun(records);
  if (!chosen || !chosen.test?.roc) return null;
  const { fpr, tpr } = chosen.test.roc;
  const auc = chosen.test.auc ?? trapezoid(fpr, tpr);
  return {
    label: `${name} (AUC ${auc.toFixed(3)})`,
    model,
    step,
    run: chosen.run,
    seed: chosen.seed,
    dir: chosen.dir,
    accuracy: chosen.test.accuracy,
    meanAccuracy: records.reduce((a, r) => a + (r.test?.accuracy ?? 0), 0) / Math.max(1, records.filter((r) => r.test).length),
    groupSize: records.length,
    auc,
    fpr: [...fpr],
    tpr: [...tpr],
  };
}

/** Figures in file order (the stages' order in protocols.ts): expt1, expt2, expt3, plusplus, then swft-<model> and lora-<model> per model. Figures without any curve are left out. */
export function buildRocFigures(records: readonly RunRecord[], opts: RocOptions = {}): RocFigure[] {
  const extra = opts.title ? [opts.title] : [];
  const figures: RocFigure[] = [];
  // the stages with a ROC figure (protocols.ts), in table order
  const withRoc = stageRows().filter((s) => s.roc !== undefined);
  for (const s of withRoc.filter((x) => !x.stepped)) {
    const stage = s.stage as Stage;
    const curves = groupRuns(records, [stage], opts.modelOrder)
      .map((g) => curveOf(g.records, g.model, g.model, null))
      .filter((c): c is RocCurveEntry => c !== null);
    const title = `ROC curves: Expt.${s.expt} (${s.suffix})`;
    if (curves.length > 0) figures.push({ name: stage, stage, model: null, title, subtitle: [s.roc!, ...extra], curves });
  }
  const steppedStages = withRoc.filter((x) => x.stepped);
  const stepped = records.filter((r) => stageRow(r.stage)?.stepped);
  for (const model of orderModels(
    stepped.map((r) => r.model),
    opts.modelOrder,
  )) {
    for (const s of steppedStages) {
      const stage = s.stage as Stage;
      const curves = groupRuns(
        stepped.filter((r) => r.model === model),
        [stage],
      )
        .map((g) => curveOf(g.records, `Step ${g.step}`, model, g.step))
        .filter((c): c is RocCurveEntry => c !== null);
      if (curves.length === 0) continue;
      figures.push({
        name: `${stage}-${fileSafe(model)}`,
        stage,
        model,
        title: `ROC curves: ${s.expt} steps, ${model}${s.suffix}`,
        subtitle: [s.roc!, ...extra],
        curves,
      });
    }
  }
  return figures;
}

/** Line colours: Tableau 10, then darker tones for figures with more than 10 curves (the paper has 11 models). */
const PALETTE = [
  '#4c78a8', '#f58518', '#e45756', '#72b7b2', '#54a24b', '#eeca3b', '#b279a2', '#ff9da6', '#9d755d', '#bab0ac',
  '#1b1b1b', '#393b79', '#637939', '#8c6d31', '#843c39', '#7b4173', '#17becf', '#bcbd22', '#6b6ecf', '#e7969c',
];

/** The Vega-Lite specification of one figure (plot area 420 x 420 px). */
export function rocSpec(fig: RocFigure): TopLevelSpec {
  const labels = fig.curves.map((c) => c.label);
  const values = fig.curves.flatMap((c) => c.fpr.map((x, i) => ({ curve: c.label, fpr: x, tpr: c.tpr[i] as number, i })));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: fig.subtitle.length > 0 ? { text: fig.title, subtitle: fig.subtitle } : { text: fig.title },
    width: 420,
    height: 420,
    background: 'white',
    padding: 12,
    config: { ...FIGURE_CONFIG, legend: { labelFontSize: 11, labelLimit: 0 } },
    layer: [
      {
        name: 'chance',
        data: { values: [{ x: 0, y: 0 }, { x: 1, y: 1 }] },
        mark: { type: 'line', color: '#888888', strokeDash: [5, 4], strokeWidth: 1 },
        encoding: {
          x: { field: 'x', type: 'quantitative', scale: { domain: [0, 1], nice: false, zero: true }, axis: unitAxis('False positive rate') },
          y: { field: 'y', type: 'quantitative', scale: { domain: [0, 1], nice: false, zero: true }, axis: unitAxis('True positive rate') },
        },
      },
      {
        name: 'roc',
        data: { values },
        mark: { type: 'line', strokeWidth: 2, interpolate: 'linear' },
        encoding: {
          x: { field: 'fpr', type: 'quantitative' },
          y: { field: 'tpr', type: 'quantitative' },
          color: {
            field: 'curve',
            type: 'nominal',
            sort: labels,
            scale: { domain: labels, range: labels.map((_, i) => PALETTE[i % PALETTE.length] as string) },
            legend: {
              title: null,
              orient: 'bottom-right',
              fillColor: 'rgba(255, 255, 255, 0.85)',
              strokeColor: '#cccccc',
              padding: 6,
              symbolType: 'stroke',
              symbolStrokeWidth: 2,
            },
          },
          order: { field: 'i', type: 'quantitative' },
        },
      },
    ],
  } as TopLevelSpec;
}

/** SVG text of a Vega-Lite chart, rendered headless by Vega (the same spec gives the same bytes). */
export async function renderVegaLiteSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return normalizeSvgIds(await view.toSVG());
  } finally {
    view.finalize();
  }
}

/** SVG text of one figure, rendered headless by Vega. */
export async function renderRocSvg(fig: RocFigure): Promise<string> {
  return renderVegaLiteSvg(rocSpec(fig));
}

/**
 * Vega numbers clip paths and gradients with process-wide counters, so a second render
 * in the same process would say clip3 where the first said clip1. Renumber them in order
 * of appearance so that the same figure always gives the same bytes.
 */
export function normalizeSvgIds(svg: string): string {
  const seen = new Map<string, string>();
  const counters = new Map<string, number>();
  return svg.replace(/(id="|url\(#)(clip|gradient_)(\d+)/g, (_m, lead: string, kind: string, num: string) => {
    const key = `${kind}${num}`;
    let mapped = seen.get(key);
    if (mapped === undefined) {
      const next = (counters.get(kind) ?? 0) + 1;
      counters.set(kind, next);
      mapped = `${kind}${next}`;
      seen.set(key, mapped);
    }
    return `${lead}${mapped}`;
  });
}

/** Rasterises an SVG with sharp so that the PNG is about `width` pixels wide. */
export async function svgToPng(svg: string, width = 800): Promise<Buffer> {
  const input = Buffer.from(svg, 'utf8');
  const meta = await sharp(input).metadata();
  const density = (72 * width) / (meta.width ?? width);
  return sharp(input, { density }).png({ compressionLevel: 9, adaptiveFiltering: false }).toBuffer();
}

/** SVG and PNG (about 800 px wide) of one figure. */
export async function renderRoc(fig: RocFigure): Promise<{ svg: string; png: Buffer }> {
  const svg = await renderRocSvg(fig);
  return { svg, png: await svgToPng(svg, 800) };
}
