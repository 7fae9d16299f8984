// The reliability diagram of an evaluation (thtl-native evaluate): one bar per
// equal-width confidence bin, its height the accuracy of the bin's images, against the
// diagonal (perfect calibration), with each bin's image count above its bar and the mean
// confidence marked in the bar. Plain SVG, written by hand: the same bins give the same
// bytes on every machine (text in DejaVu Sans, as roc.ts).
import type { ReliabilityBin } from '../stats/calibration.js';
import { FONT_FAMILY } from './roc.js';

export interface ReliabilityFigureOptions {
  title: string;
  /** lines under the title (e.g. the ECE and the number of images) */
  subtitle?: string[];
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (x: number): string => (Math.round(x * 100) / 100).toString();

/**
 * SVG text of a reliability diagram of `bins` (reliabilityBins' entries: the equal-width
 * bins, then the slot [1, 1] of confidences exactly 1, drawn merged into the last bin).
 */
export function reliabilitySvg(bins: readonly ReliabilityBin[], o: ReliabilityFigureOptions): string {
  // merge the [1, 1] slot into the last bin, as a reader expects 15 bars over [0, 1]
  const bars = bins.filter((b) => b.lo < 1).map((b) => ({ ...b }));
  const top = bins.find((b) => b.lo >= 1);
  const last = bars[bars.length - 1];
  if (top && last && top.count > 0) {
    const n = last.count + top.count;
    const acc = ((last.count > 0 ? last.accuracy * last.count : 0) + top.accuracy * top.count) / n;
    const conf = ((last.count > 0 ? last.confidence * last.count : 0) + top.confidence * top.count) / n;
    Object.assign(last, { count: n, accuracy: acc, confidence: conf, hi: 1 });
  }
  const subtitle = o.subtitle ?? [];
  const left = 60;
  const plot = 420;
  const titleH = 28 + 16 * subtitle.length;
  const topY = titleH + 14;
  const width = left + plot + 24;
  const height = topY + plot + 56;
  const x = (v: number): number => left + v * plot;
  const y = (v: number): number => topY + (1 - v) * plot;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT_FAMILY}">`);
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  parts.push(`<text x="${width / 2}" y="20" font-size="14" font-weight="bold" text-anchor="middle">${esc(o.title)}</text>`);
  subtitle.forEach((line, i) => parts.push(`<text x="${width / 2}" y="${38 + 16 * i}" font-size="12" text-anchor="middle" fill="#444">${esc(line)}</text>`));
  // grid and axes
  for (let t = 0; t <= 5; t++) {
    const v = t / 5;
    parts.push(`<line x1="${x(0)}" y1="${num(y(v))}" x2="${x(1)}" y2="${num(y(v))}" stroke="#e5e5e5"/>`);
    parts.push(`<line x1="${num(x(v))}" y1="${y(0)}" x2="${num(x(v))}" y2="${y(1)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${left - 6}" y="${num(y(v) + 4)}" font-size="11" text-anchor="end">${v.toFixed(1)}</text>`);
    parts.push(`<text x="${num(x(v))}" y="${y(0) + 16}" font-size="11" text-anchor="middle">${v.toFixed(1)}</text>`);
  }
  // bars: accuracy per bin, count above, mean confidence as a tick
  for (const b of bars) {
    const w = (b.hi - b.lo) * plot;
    if (b.count === 0) continue;
    parts.push(`<rect x="${num(x(b.lo) + 1)}" y="${num(y(b.accuracy))}" width="${num(w - 2)}" height="${num(b.accuracy * plot)}" fill="#4c78a8" fill-opacity="0.8"><title>${b.lo.toFixed(3)}-${b.hi.toFixed(3)}: accuracy ${b.accuracy.toFixed(3)}, confidence ${b.confidence.toFixed(3)}, ${b.count} image(s)</title></rect>`);
    parts.push(`<line x1="${num(x(b.lo) + 1)}" y1="${num(y(b.confidence))}" x2="${num(x(b.hi) - 1)}" y2="${num(y(b.confidence))}" stroke="#e45756" stroke-width="2"/>`);
    parts.push(`<text x="${num(x(b.lo) + w / 2)}" y="${num(y(b.accuracy) - 4)}" font-size="9" text-anchor="middle" fill="#333">${b.count}</text>`);
  }
  parts.push(`<line x1="${x(0)}" y1="${y(0)}" x2="${x(1)}" y2="${y(1)}" stroke="#888888" stroke-dasharray="5,4"/>`);
  parts.push(`<rect x="${x(0)}" y="${y(1)}" width="${plot}" height="${plot}" fill="none" stroke="#888888"/>`);
  parts.push(`<text x="${x(0.5)}" y="${y(0) + 36}" font-size="12" text-anchor="middle">Confidence (top-label probability)</text>`);
  parts.push(`<text transform="translate(16 ${y(0.5)}) rotate(-90)" font-size="12" text-anchor="middle">Accuracy</text>`);
  // legend
  const ly = y(1) + 14;
  parts.push(`<rect x="${x(0) + 10}" y="${ly - 9}" width="12" height="10" fill="#4c78a8" fill-opacity="0.8"/><text x="${x(0) + 26}" y="${ly}" font-size="11">accuracy (count above)</text>`);
  parts.push(`<line x1="${x(0) + 10}" y1="${ly + 12}" x2="${x(0) + 22}" y2="${ly + 12}" stroke="#e45756" stroke-width="2"/><text x="${x(0) + 26}" y="${ly + 16}" font-size="11">mean confidence</text>`);
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
