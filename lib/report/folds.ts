// The cross-validation part of a study report (a study with folds): for each configuration
// of Tables 3, 4 and 6 (a stage, model and step), its folds' test metrics, their mean ±
// std, and the pooled out-of-fold test predictions (every target image once, each
// predicted by the fold model that did not train on it) with patient-clustered bootstrap
// intervals and the ECE. report/folds.md and folds.json; the HTML report shows the same.
import type { RunRecord } from '../experiment/types.js';
import { foldRow, foldsMarkdown, summarizeFolds, type FoldsSummary } from '../stats/folds.js';
import { buildTables } from './tables.js';
import type { TestPredictions } from './test-predictions.js';

/** One configuration's folds. */
export interface ConfigFolds {
  /** the table's experiment column ('#1', 'SWFT') and row label ('resnet50**', 'Step 2') */
  expt: string;
  label: string;
  stage: string;
  model: string;
  step: number | null;
  classes: string[];
  /** folds with a finished run, and the study's number of folds */
  finished: number;
  of: number;
  summary: FoldsSummary;
}

/** folds.json. */
export interface FoldsReport {
  title: string;
  folds: number;
  configurations: ConfigFolds[];
}

/**
 * The folds of every configuration with fold runs (records with `fold`), in the tables'
 * row order; `of` is the study's number of folds. A configuration whose runs lack their
 * test predictions is left out (the statistics say why).
 */
export function buildFoldsReport(records: readonly RunRecord[], predictions: TestPredictions, o: { title: string; of: number; modelOrder?: readonly string[] }): FoldsReport {
  const configurations: ConfigFolds[] = [];
  const folded = records.filter((r) => r.fold !== undefined && r.test);
  for (const t of buildTables([...folded], { modelOrder: o.modelOrder }))
    for (const row of t.rows) {
      const runs = folded.filter((r) => r.stage === row.stage && r.model === row.model && (r.step ?? null) === row.step).sort((a, b) => a.fold! - b.fold!);
      const images = runs.map((r) => predictions.get(r));
      if (runs.length === 0 || images.some((im) => !im || im.length === 0)) continue;
      const perFold = runs.map((r, i) => foldRow(r.fold!, r.dir, r.bestEpoch, r.test!, images[i]!));
      configurations.push({
        expt: row.expt,
        label: row.label,
        stage: row.stage,
        model: row.model,
        step: row.step,
        classes: runs[0]!.classes,
        finished: runs.length,
        of: o.of,
        summary: summarizeFolds(perFold, images.flatMap((im) => im!), runs[0]!.classes.length),
      });
    }
  return { title: o.title, folds: o.of, configurations };
}

/** The heading of a configuration: "#1 resnet50**" or "SWFT resnet50++ Step 2". */
export function configFoldsTitle(c: Pick<ConfigFolds, 'expt' | 'label' | 'model' | 'step'>): string {
  return c.step !== null ? `${c.expt} ${c.model}++ ${c.label}` : `${c.expt} ${c.label}`;
}

/** folds.md. */
export function foldsReportMarkdown(r: FoldsReport): string {
  const lines = [
    `# Cross-validation: ${r.title}`,
    '',
    `${r.folds} folds of the target images (splits/folds.json); run k of every configuration is tested on fold k and validated on a part of the other folds. ` +
      'Per fold: its test metrics; then their mean ± sample std over the folds, and the pooled out-of-fold test predictions.',
  ];
  for (const c of r.configurations) {
    lines.push('', `## ${configFoldsTitle(c)}`, '');
    if (c.finished < c.of) lines.push(`${c.finished} of ${c.of} folds finished: the pooled predictions cover those folds only.`, '');
    lines.push(...foldsMarkdown(c.summary, c.classes));
  }
  return `${lines.join('\n')}\n`;
}
