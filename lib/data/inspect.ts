// `data inspect`: what a dataset holds, from the loaded item list and the
// image headers (and, with --decode, a full decode of every image), as numbers and as
// printable text.
import type { LoadedDataset } from './types.js';
import { decodeCheck, type DecodeCheckOptions } from './decode-check.js';
import { readImageHeader } from './image-header.js';
import { listOffenders, type SkippedEntry } from './problems.js';

export interface GroupStats {
  count: number;
  min: number;
  median: number;
  max: number;
  /** Items without a group (each counts as its own group when splitting). */
  ungrouped: number;
}

export interface SizeRange {
  minWidth: number;
  maxWidth: number;
  minHeight: number;
  maxHeight: number;
  formats: Record<string, number>;
}

export interface InspectReport {
  name: string;
  source: string;
  classes: { name: string; count: number }[];
  total: number;
  groups: GroupStats | null;
  sizes: SizeRange | null;
  /** Files that are missing, whose header cannot be read or (with decoded) that do not decode. */
  unreadable: { file: string; reason: string }[];
  /** true when every image was decoded in full (--decode), false when only headers were read */
  decoded: boolean;
  skipped: SkippedEntry[];
  notes: string[];
}

function median(sorted: readonly number[]): number {
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function groupStats(items: readonly { group?: string }[]): GroupStats | null {
  const sizes = new Map<string, number>();
  let ungrouped = 0;
  for (const it of items) {
    if (it.group === undefined) ungrouped += 1;
    else sizes.set(it.group, (sizes.get(it.group) ?? 0) + 1);
  }
  if (sizes.size === 0) return null;
  const sorted = [...sizes.values()].sort((a, b) => a - b);
  return { count: sorted.length, min: sorted[0] as number, median: median(sorted), max: sorted[sorted.length - 1] as number, ungrouped };
}

function scanSizes(files: readonly string[]): { sizes: SizeRange | null; unreadable: InspectReport['unreadable'] } {
  let sizes: SizeRange | null = null;
  const unreadable: InspectReport['unreadable'] = [];
  for (const file of files) {
    try {
      const h = readImageHeader(file);
      sizes ??= { minWidth: h.width, maxWidth: h.width, minHeight: h.height, maxHeight: h.height, formats: {} };
      sizes.minWidth = Math.min(sizes.minWidth, h.width);
      sizes.maxWidth = Math.max(sizes.maxWidth, h.width);
      sizes.minHeight = Math.min(sizes.minHeight, h.height);
      sizes.maxHeight = Math.max(sizes.maxHeight, h.height);
      sizes.formats[h.format] = (sizes.formats[h.format] ?? 0) + 1;
    } catch (err) {
      unreadable.push({ file, reason: err instanceof Error ? err.message : String(err) });
    }
  }
  return { sizes, unreadable };
}

export function inspectDataset(ds: LoadedDataset): InspectReport {
  const counts = ds.classes.map(() => 0);
  for (const it of ds.items) counts[it.label] = (counts[it.label] ?? 0) + 1;
  const { sizes, unreadable } = scanSizes(ds.items.map((it) => it.file));
  return {
    name: ds.name,
    source: ds.source,
    classes: ds.classes.map((name, i) => ({ name, count: counts[i] ?? 0 })),
    total: ds.items.length,
    groups: groupStats(ds.items),
    sizes,
    unreadable,
    decoded: false,
    skipped: ds.skipped,
    notes: ds.notes,
  };
}

/** inspectDataset, then a full decode of every image whose header was readable (decodeCheck): failures join unreadable. */
export async function inspectDatasetDecoded(ds: LoadedDataset, options: DecodeCheckOptions = {}): Promise<InspectReport> {
  const report = inspectDataset(ds);
  const bad = new Set(report.unreadable.map((u) => u.file));
  const failures = await decodeCheck(ds.items.map((it) => it.file).filter((f) => !bad.has(f)), options);
  const reasons = new Map([...report.unreadable, ...failures].map((u) => [u.file, u.reason]));
  const unreadable = ds.items.filter((it) => reasons.has(it.file)).map((it) => ({ file: it.file, reason: reasons.get(it.file)! }));
  return { ...report, unreadable, decoded: true };
}

function groupLine(g: GroupStats | null): string {
  if (!g) return 'groups: none (no patient ids; --group-by patient would treat every image as its own group)';
  const extra = g.ungrouped > 0 ? `; ${g.ungrouped} images without a group` : '';
  return `groups: ${g.count} (images per group: min ${g.min}, median ${g.median}, max ${g.max}${extra})`;
}

function sizeLine(s: SizeRange | null): string {
  if (!s) return 'image sizes: none readable';
  const formats = Object.entries(s.formats).map(([f, n]) => `${n} ${f}`).join(', ');
  return `image sizes: width ${s.minWidth}-${s.maxWidth}, height ${s.minHeight}-${s.maxHeight} (${formats})`;
}

export function formatInspect(r: InspectReport): string {
  const width = Math.max(5, ...r.classes.map((c) => c.name.length));
  const lines = [`dataset: ${r.name} (${r.source})`, ...r.notes.map((n) => `  ${n}`), `classes: ${r.classes.length}, images: ${r.total}`];
  for (const c of r.classes) lines.push(`  ${c.name.padEnd(width)} ${String(c.count).padStart(8)}`);
  lines.push(groupLine(r.groups), sizeLine(r.sizes));
  lines.push(`unreadable files${r.decoded ? ' (every image decoded)' : ''}: ${r.unreadable.length === 0 ? 'none' : r.unreadable.length}`);
  lines.push(...listOffenders(r.unreadable.map((u) => `${u.file}: ${u.reason}`)));
  lines.push(`skipped entries: ${r.skipped.length === 0 ? 'none' : r.skipped.length}`);
  lines.push(...listOffenders(r.skipped.map((s) => `${s.row !== undefined ? `row ${s.row}: ` : ''}${s.file ?? ''}${s.file ? ' - ' : ''}${s.reason}`)));
  return `${lines.join('\n')}\n`;
}
