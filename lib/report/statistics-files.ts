// Writes the statistics of a study report (lib/report/comparisons.ts) as files:
// comparisons.md/.csv, run-intervals.md/.csv and statistics.json, each atomically.
import { join } from 'node:path';

import type { RunRecord } from '../experiment/types.js';
import { writeFileAtomic } from '../util/runfolder.js';
import { DEFAULT_BOOTSTRAP, type BootstrapOptions } from '../stats/bootstrap.js';
import { buildStatistics, statisticsCsv, statisticsMarkdown, type StudyStatistics } from './comparisons.js';
import type { TestPredictions } from './test-predictions.js';

export interface StatisticsOptions {
  modelOrder: string[];
  title: string;
  bootstrap?: BootstrapOptions;
  /** the test predictions the report's other parts read (read here when absent) */
  predictions?: TestPredictions;
}

/** The statistics files of a study folder's report; returns the statistics and the paths written. */
export function writeStatistics(studyDir: string, reportDir: string, records: readonly RunRecord[], o: StatisticsOptions): { stats: StudyStatistics; files: string[] } {
  const stats = buildStatistics(studyDir, records, o.modelOrder, o.bootstrap ?? DEFAULT_BOOTSTRAP, o.predictions);
  const md = statisticsMarkdown(stats, o.title);
  const csv = statisticsCsv(stats);
  const files: [string, string][] = [
    ['comparisons.md', md.comparisons],
    ['comparisons.csv', csv.comparisons],
    ['run-intervals.md', md.intervals],
    ['run-intervals.csv', csv.intervals],
    ['statistics.json', `${JSON.stringify(stats, null, 2)}\n`],
  ];
  const written = files.map(([name, text]) => {
    const path = join(reportDir, name);
    writeFileAtomic(path, text);
    return path;
  });
  return { stats, files: written };
}
