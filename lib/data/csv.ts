// A small RFC-4180 CSV parser: quoted fields, doubled quotes, separators and
// line breaks inside quotes, CRLF/LF/CR line ends and a leading UTF-8 BOM.
// Spreadsheets saved by Excel in some locales use ';' (or tabs), so the
// separator is guessed from the header line unless given.

export type CsvSeparator = ',' | ';' | '\t';

/** The separator that occurs most often, outside quotes, in the first line. */
export function guessSeparator(text: string): CsvSeparator {
  const counts: Record<CsvSeparator, number> = { ',': 0, ';': 0, '\t': 0 };
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === '\n' || ch === '\r')) break;
    else if (!quoted && (ch === ',' || ch === ';' || ch === '\t')) counts[ch] += 1;
  }
  // Ties (including no separator at all) go to the comma.
  return counts[';'] > counts[','] && counts[';'] >= counts['\t'] ? ';' : counts['\t'] > counts[','] ? '\t' : ',';
}

/**
 * Parses CSV text into records (arrays of fields). Every line break outside
 * quotes ends a record, so record i is line i + 1 of a file without quoted
 * line breaks; a blank line gives the record [''].
 */
export function parseCsv(input: string, separator?: CsvSeparator): string[][] {
  const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  const sep = separator ?? guessSeparator(text);
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  let quoteStart = 0;
  while (i < text.length) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch !== '"') field += ch;
      else if (text[i + 1] === '"') (field += '"'), (i += 1);
      else quoted = false;
    } else if (ch === '"' && field === '') {
      quoted = true;
      quoteStart = records.length + 1;
    } else if (ch === sep) {
      record.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i += 1;
      record.push(field);
      records.push(record);
      record = [];
      field = '';
    } else field += ch;
    i += 1;
  }
  if (quoted) throw new Error(`CSV: unterminated quoted field starting in record ${quoteStart}`);
  // A final line without a line break still counts; a trailing break does not add a record.
  if (field !== '' || record.length > 0) {
    record.push(field);
    records.push(record);
  }
  return records;
}

/** One CSV field as written: quoted when it holds a quote, comma or line break; null and non-finite numbers empty. */
export function csvCell(v: string | number | null): string {
  if (v === null) return '';
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : v;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
