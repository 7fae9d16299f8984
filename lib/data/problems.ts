// Bad entries found while loading a dataset. Loading either fails with one
// error that names every offender (grouped by kind), or, with skipBad, drops
// the offending entries and returns them as `skipped` so nothing disappears
// without a trace.

export type ProblemKind = 'missing-file' | 'ambiguous-file' | 'unsupported-format' | 'unmapped-label' | 'duplicate';

export interface Problem {
  kind: ProblemKind;
  /** Spreadsheet/CSV row, when the entry came from one. */
  row?: number;
  /** Resolved file, when known. */
  file?: string;
  /** The offending label value (unmapped-label only). */
  label?: string;
  /** What is wrong, e.g. "'P1 (3)' not found in /data/img (tried .png, .jpg)". */
  detail: string;
}

export interface SkippedEntry {
  file?: string;
  row?: number;
  reason: string;
}

/** How many offenders an error message lists before "... and N more". */
export const MAX_LISTED = 20;

const HEADINGS: Record<ProblemKind, string> = {
  'missing-file': 'image files not found',
  'ambiguous-file': 'names matching more than one file',
  'unsupported-format': 'files in a format that cannot be decoded (only JPEG and PNG)',
  'unmapped-label': 'labels not in the mapping',
  duplicate: 'duplicate entries (the same file more than once)',
};

/** `lines`, indented, cut after `max` with a count of the rest. */
export function listOffenders(lines: readonly string[], max = MAX_LISTED, indent = '  '): string[] {
  const shown = lines.slice(0, max).map((l) => `${indent}${l}`);
  if (lines.length > max) shown.push(`${indent}... and ${lines.length - max} more`);
  return shown;
}

function joinRows(rows: readonly (number | undefined)[]): string {
  const nums = rows.filter((r): r is number => r !== undefined);
  const shown = nums.slice(0, MAX_LISTED).join(', ');
  return nums.length > MAX_LISTED ? `${shown} ... and ${nums.length - MAX_LISTED} more` : shown;
}

/** Unmapped labels read best grouped: one line per label with its rows. */
function labelLines(problems: readonly Problem[]): string[] {
  const byLabel = new Map<string, Problem[]>();
  for (const p of problems) {
    const key = p.label ?? '';
    const list = byLabel.get(key);
    if (list) list.push(p);
    else byLabel.set(key, [p]);
  }
  return [...byLabel].map(([label, ps]) => {
    const where = ps.some((p) => p.row !== undefined) ? `rows ${joinRows(ps.map((p) => p.row))}` : ps.map((p) => p.file).join(', ');
    return `${label === '' ? '(empty)' : `'${label}'`} (${ps.length}): ${where}${ps[0]?.detail ? ` - ${ps[0].detail}` : ''}`;
  });
}

const lineOf = (p: Problem): string => `${p.row !== undefined ? `row ${p.row}: ` : ''}${p.detail}`;

/** One error naming every offender, grouped by kind. */
export function problemsError(source: string, problems: readonly Problem[]): Error {
  const lines = [`${source}: ${problems.length} bad ${problems.length === 1 ? 'entry' : 'entries'}:`];
  for (const kind of Object.keys(HEADINGS) as ProblemKind[]) {
    const ofKind = problems.filter((p) => p.kind === kind);
    if (ofKind.length === 0) continue;
    lines.push(`${HEADINGS[kind]} (${ofKind.length}):`);
    lines.push(...listOffenders(kind === 'unmapped-label' ? labelLines(ofKind) : ofKind.map(lineOf)));
  }
  lines.push('Fix these, or pass --skip-bad-images (the skipBadImages option) to drop them; dropped entries are listed as skipped.');
  const kinds = (Object.keys(HEADINGS) as ProblemKind[])
    .map((kind) => [kind, problems.filter((p) => p.kind === kind).length] as const)
    .filter(([, n]) => n > 0)
    .map(([kind, n]) => `${n} ${HEADINGS[kind]}`);
  const first = problems[0]!;
  const summary =
    `${source}: ${problems.length} bad ${problems.length === 1 ? 'entry' : 'entries'} (${kinds.join(', ')}; first: ${first.kind === 'unmapped-label' ? labelLines([first])[0] : lineOf(first)}); ` +
    'fix them, or pass --skip-bad-images to drop them (listed as skipped); `thtl-native data inspect` lists every one';
  return Object.assign(new Error(lines.join('\n')), { summary });
}

/** The skipped-list entry for one row or file with one or more problems. */
export function toSkipped(problems: readonly Problem[]): SkippedEntry {
  const first = problems[0];
  const entry: SkippedEntry = { reason: problems.map((p) => `${p.kind}: ${p.detail}`).join('; ') };
  const file = problems.find((p) => p.file !== undefined)?.file;
  if (file !== undefined) entry.file = file;
  if (first?.row !== undefined) entry.row = first.row;
  return entry;
}
