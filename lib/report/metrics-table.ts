// Plain-text tables of a classification report, for the terminal.
import type { ClassificationReport } from '../stats/metrics.js';

function pad(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
}

export function formatReport(r: ClassificationReport, title = 'test'): string {
  const f = (x: number) => x.toFixed(4);
  const rows: string[][] = [['class', 'precision', 'recall', 'f1', 'support']];
  for (const c of r.perClass) rows.push([c.name, f(c.precision), f(c.recall), f(c.f1), String(c.support)]);
  rows.push(['macro avg', f(r.macro.precision), f(r.macro.recall), f(r.macro.f1), String(r.n)]);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const lines = [`${title} metrics (n = ${r.n})`, ...rows.map((row) => pad(row, widths))];
  lines.push(`accuracy ${f(r.accuracy)}   AUC ${r.auc === null ? 'n/a' : f(r.auc)}`);
  const names = r.perClass.map((c) => c.name);
  const cw = Math.max(...names.map((n) => n.length), ...r.confusion.flat().map((v) => String(v).length));
  lines.push('confusion matrix (rows = true, columns = predicted)');
  lines.push(pad(['', ...names], [cw, ...names.map(() => cw)]));
  r.confusion.forEach((row, i) => lines.push(pad([names[i], ...row.map(String)], [cw, ...row.map(() => cw)])));
  return lines.join('\n');
}
