// `--quiet` and `--json` of the long commands (`train`, `experiment`, `reproduce`; `run-unit`
// takes `--json`): how they report, not what they run, so they are no training options.
import type { Command } from 'commander';

import type { RunResult } from '../train/runner.js';
import type { ResultEvent } from '../util/progress.js';

export interface OutputFlags {
  quiet: boolean;
  json: boolean;
}

/** Adds `--quiet` and `--json` to `cmd`. */
export function outputFlags(cmd: Command): Command {
  return cmd
    .option('--quiet', 'no progress on stderr (errors only); the result alone on stdout', false)
    .option('--json', 'stdout: one JSON object per line per event (epoch, unit, result) and nothing else', false);
}

/** The output flags of commander's parsed options. */
export function readOutputFlags(o: Record<string, unknown>): OutputFlags {
  return { quiet: o.quiet === true, json: o.json === true };
}

/** The result event of a run (`train --json`, `run-unit --json`): the RunResult, its test metrics without the ROC points (in the run folder). */
export function trainResultEvent(r: RunResult): ResultEvent {
  const test = r.test ? (({ roc: _roc, ...rest }) => rest)(r.test) : null;
  return { event: 'result', ...r, test };
}
