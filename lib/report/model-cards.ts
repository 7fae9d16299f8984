// report/model-cards.md: the model cards of a study in one place. A short summary of what
// the study's runs share (each domain's data and split, the first run's recipe), then one
// section per configuration of the report tables (stage, model, step) listing its runs'
// folders with links to their model-card.md (relative to the report folder). The text of
// the summary is the run cards' own (lib/train/model-card.ts). Paths inside the study
// folder are shown relative to it, so two copies of a study give the same bytes.
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';

import { tableStages, type TableId } from '../experiment/protocols.js';
import type { RunRecord, Stage } from '../experiment/types.js';
import type { SplitFile } from '../split/file.js';
import type { TrainConfig } from '../train/config.js';
import { dataSection, recipeText, trainedPart } from '../train/model-card.js';
import { configLabel, escapeMarkdown, groupRuns } from './tables.js';

export const MODEL_CARDS_FILE = 'model-cards.md';

type StoredConfig = Pick<TrainConfig, 'data' | 'splitFile' | 'weights' | 'epochs' | 'batchSize' | 'seed' | 'precision' | 'channelsLast' | 'patience' | 'monitor' | 'headOnly' | 'trainableGroups' | 'lora'> & {
  lr: number;
  inputSize: number;
  precisionRequested?: string;
};

/** A run folder's config.json and split.json, as its model card was written from; null when either cannot be read. */
function cardData(studyDir: string, dir: string): { cfg: StoredConfig; split: SplitFile } | null {
  try {
    const read = (name: string): unknown => JSON.parse(readFileSync(join(studyDir, dir, name), 'utf8'));
    return { cfg: read('config.json') as StoredConfig, split: read('split.json') as SplitFile };
  } catch {
    return null;
  }
}

/** A path as the file shows it: relative to the study folder when inside it. */
function shown(studyDir: string, path: string): string {
  const rel = relative(studyDir, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel.split(sep).join('/') : path;
}

/** The configurations in the tables' order: Tables 3, 4, 5 and 6's stages, each once. */
function reportStages(): Stage[] {
  const ids: TableId[] = ['table3', 'table4', 'table5', 'table6'];
  return [...new Set(ids.flatMap((id) => tableStages(id)))];
}

/** The summary: each domain's data (the first run of the target and of the intermediate domain), the first run's recipe. */
function summary(studyDir: string, records: readonly RunRecord[]): string[] {
  const firsts = [records.find((r) => r.stage !== 'plus'), records.find((r) => r.stage === 'plus')].filter((r): r is RunRecord => r !== undefined);
  const lines: string[] = [];
  let recipe: string | null = null;
  for (const r of firsts) {
    const card = cardData(studyDir, r.dir);
    const domain = r.stage === 'plus' ? 'Intermediate domain' : 'Target domain';
    if (!card) {
      lines.push(`### ${domain}`, '', `No config.json and split.json in ${r.dir}.`, '');
      continue;
    }
    const dataset = card.split.dataset ?? card.cfg.data;
    const from = card.cfg.splitFile ? ` (split file ${shown(studyDir, card.cfg.splitFile)})` : '';
    lines.push(`### ${domain}`, '', ...dataSection(`${shown(studyDir, dataset)}${from}`, card.split), '');
    recipe ??= `Recipe of ${r.dir} (the other runs differ in seed, and in learning rate where their models' defaults differ${card.cfg.precisionRequested === 'auto' ? ', and in precision where auto chose another for their model' : ''}): ${recipeText(card.cfg, card.cfg.lr, card.cfg.inputSize, false)}.`;
  }
  return recipe ? [...lines, recipe, ''] : lines;
}

/** A Markdown link to a file inside the study folder, from the report folder. */
function link(text: string, path: string): string {
  return `[${escapeMarkdown(text)}](${encodeURI(`../${path}`)})`;
}

/** One configuration: what its runs trained and a link to each run's model card. */
function configSection(studyDir: string, label: string, records: readonly RunRecord[]): string[] {
  const card = cardData(studyDir, records[0]!.dir);
  const how = card
    ? [`${records[0]!.model}, ${card.cfg.weights ? `initial weights ${shown(studyDir, card.cfg.weights)}` : 'random initialisation'}, trained: ${trainedPart(card.cfg)}.`, '']
    : [];
  const runs = records.map((r) => {
    const cardPath = `${r.dir}/model-card.md`;
    const has = existsSync(join(studyDir, cardPath));
    return `- run ${r.run} (seed ${r.seed}): ${escapeMarkdown(r.dir)}, ${has ? link('model-card.md', cardPath) : 'no model-card.md'}`;
  });
  return [`## ${escapeMarkdown(label)}`, '', ...how, ...runs, ''];
}

/** model-cards.md of the study folder `studyDir` for its finished runs. */
export function buildModelCards(studyDir: string, records: readonly RunRecord[], o: { title?: string; modelOrder?: readonly string[] } = {}): string {
  const head = [
    `# Model cards: ${escapeMarkdown(o.title ?? 'Results')}`,
    '',
    "Every run folder holds a model-card.md: its data, training, test metrics with 95% intervals, calibration and software, with headings the author fills in (intended use, limitations). Below, what the study's runs share, then each configuration of the report tables with its runs' cards.",
    '',
  ];
  const groups = groupRuns(records, reportStages(), o.modelOrder);
  if (groups.length === 0) return [...head, 'No finished runs.', ''].join('\n');
  const ordered = groups.flatMap((g) => g.records);
  return [
    ...head,
    '## Shared by the study',
    '',
    ...summary(studyDir, ordered),
    ...groups.flatMap((g) => configSection(studyDir, configLabel(g), g.records)),
  ].join('\n');
}
