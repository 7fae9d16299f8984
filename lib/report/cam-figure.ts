// LayerCAM figures (the paper's Figs. 6-9): per row the input image, then one
// panel per layer with the jet-coloured map blended over the image, titled
// "<layer> · <class> <probability>", the row label at the left, and one vertical colour
// bar (0 to 1) at the right. Rows stack vertically to compare models. The figure is an
// SVG with every panel embedded as a PNG data URI (encoded by sharp from raw RGB), and
// the PNG is that SVG rendered by sharp at 1:1. Text uses "DejaVu Sans".
import sharp from 'sharp';

export interface CamImage {
  width: number;
  height: number;
  /** H x W x 3, row-major, 0..255 */
  rgb: Uint8Array;
}

export interface CamPanel {
  layer: string;
  /** H x W, row-major, values in [0, 1] (clamped; NaN counts as 0) */
  map: Float32Array;
}

export interface CamRow {
  /** shown rotated at the left of the row, e.g. the model or run name */
  label: string;
  image: CamImage;
  panels: CamPanel[];
  /** the class whose evidence the maps show */
  className: string;
  probability: number;
}

export interface CamFigureOptions {
  /** weight of the heatmap in the blend; 0.5 unless given */
  alpha?: number;
  /** images whose shorter side is below this many pixels are upscaled to it (nearest neighbour); 160 unless given */
  minPanelSize?: number;
  /** a heading above the rows */
  title?: string;
  /** title of the first panel of each row; "Image" unless given */
  imageTitle?: string;
}

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface CamLayout {
  width: number;
  height: number;
  /** columns = 1 (image) + the most panels in any row */
  columns: number;
  cellWidth: number;
  /** per row: the image panel then the layer panels, in pixels of the figure */
  rows: { panels: Rect[]; scale: number }[];
  colorBar: Rect;
}

/** Layout constants, in pixels. */
export const CAM_LAYOUT = {
  pad: 12,
  labelWidth: 28,
  titleHeight: 22,
  gap: 8,
  rowGap: 14,
  headerHeight: 28,
  barGap: 16,
  barWidth: 16,
  barLabelWidth: 36,
} as const;

export const CAM_FONT = 'DejaVu Sans';

// matplotlib's 'jet' colormap (matplotlib/_cm.py, _jet_data): each channel is piecewise
// linear between these (x, value) anchors. Evaluated continuously here (matplotlib
// samples it into a 256-entry table; the difference is below one 8-bit level).
const JET: readonly (readonly (readonly [number, number])[])[] = [
  [[0, 0], [0.35, 0], [0.66, 1], [0.89, 1], [1, 0.5]], // red
  [[0, 0], [0.125, 0], [0.375, 1], [0.64, 1], [0.91, 0], [1, 0]], // green
  [[0, 0.5], [0.11, 1], [0.34, 1], [0.65, 0], [1, 0]], // blue
];

function piecewise(anchors: readonly (readonly [number, number])[], x: number): number {
  for (let i = 1; i < anchors.length; i++) {
    const [x1, y1] = anchors[i] as readonly [number, number];
    if (x <= x1) {
      const [x0, y0] = anchors[i - 1] as readonly [number, number];
      return x1 === x0 ? y1 : y0 + ((x - x0) / (x1 - x0)) * (y1 - y0);
    }
  }
  return (anchors[anchors.length - 1] as readonly [number, number])[1];
}

/** Jet colour of v (clamped to [0, 1]; NaN as 0) as [r, g, b] in [0, 1]. */
export function jet(v: number): [number, number, number] {
  const x = Number.isNaN(v) ? 0 : Math.min(1, Math.max(0, v));
  return [piecewise(JET[0]!, x), piecewise(JET[1]!, x), piecewise(JET[2]!, x)];
}

function checkRow(row: CamRow, i: number): void {
  const { width, height, rgb } = row.image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`cam row ${i}: image size ${width}x${height} is not positive integers`);
  }
  if (rgb.length !== width * height * 3) throw new Error(`cam row ${i}: image has ${rgb.length} bytes, expected ${width * height * 3} (H x W x 3)`);
  row.panels.forEach((p, j) => {
    if (p.map.length !== width * height) {
      throw new Error(`cam row ${i}, panel ${j} (${p.layer}): map has ${p.map.length} values, expected ${width * height} (the image's H x W)`);
    }
  });
}

/** Where everything goes; `renderCamFigure` draws exactly this. */
export function camFigureLayout(rows: readonly CamRow[], opts: CamFigureOptions = {}): CamLayout {
  if (rows.length === 0) throw new Error('renderCamFigure: no rows');
  rows.forEach(checkRow);
  const L = CAM_LAYOUT;
  const minPanel = opts.minPanelSize ?? 160;
  const scaled = rows.map((r) => {
    const short = Math.min(r.image.width, r.image.height);
    const scale = short < minPanel ? minPanel / short : 1;
    return { scale, w: Math.round(r.image.width * scale), h: Math.round(r.image.height * scale) };
  });
  const columns = 1 + Math.max(...rows.map((r) => r.panels.length));
  const cellWidth = Math.max(...scaled.map((s) => s.w));
  const left = L.pad + L.labelWidth;
  let y = L.pad + (opts.title ? L.headerHeight : 0);
  const layoutRows = scaled.map((s, i) => {
    if (i > 0) y += L.rowGap;
    const top = y + L.titleHeight;
    const count = 1 + (rows[i] as CamRow).panels.length;
    const panels = Array.from({ length: count }, (_, j) => ({ x: left + j * (cellWidth + L.gap) + Math.floor((cellWidth - s.w) / 2), y: top, w: s.w, h: s.h }));
    y = top + s.h;
    return { panels, scale: s.scale };
  });
  const gridRight = left + columns * cellWidth + (columns - 1) * L.gap;
  const barTop = (layoutRows[0] as { panels: Rect[] }).panels[0]!.y;
  const colorBar = { x: gridRight + L.barGap, y: barTop, w: L.barWidth, h: y - barTop };
  return {
    width: colorBar.x + L.barWidth + L.barLabelWidth + L.pad,
    height: y + L.pad,
    columns,
    cellWidth,
    rows: layoutRows,
    colorBar,
  };
}

/** The map's jet colours blended over the image: (1 - alpha) * image + alpha * jet(map), H x W x 3. */
export function overlayJet(image: CamImage, map: Float32Array, alpha = 0.5): Uint8Array {
  const n = image.width * image.height;
  if (map.length !== n) throw new Error(`overlayJet: map has ${map.length} values, expected ${n}`);
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const c = jet(map[i] as number);
    for (let k = 0; k < 3; k++) {
      const v = (1 - alpha) * (image.rgb[3 * i + k] as number) + alpha * 255 * c[k]!;
      out[3 * i + k] = Math.min(255, Math.max(0, Math.round(v)));
    }
  }
  return out;
}

async function pngDataUri(rgb: Uint8Array, width: number, height: number, outW: number, outH: number): Promise<string> {
  let img = sharp(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength), { raw: { width, height, channels: 3 } });
  if (outW !== width || outH !== height) img = img.resize(outW, outH, { kernel: 'nearest', fit: 'fill' });
  const png = await img.png({ compressionLevel: 9, adaptiveFiltering: false }).toBuffer();
  return `data:image/png;base64,${png.toString('base64')}`;
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** A font size at which `text` (estimated 0.6 em per character) fits `width`, at most `size`. */
function fitFont(text: string, width: number, size: number): number {
  const est = text.length * 0.6 * size;
  return est <= width ? size : Math.max(7, Math.floor((width / (text.length * 0.6)) * 10) / 10);
}

function textEl(x: number, y: number, text: string, size: number, extra = ''): string {
  return `<text x="${x}" y="${y}" font-family="${CAM_FONT}" font-size="${size}"${extra}>${xml(text)}</text>`;
}

/** Renders the figure; see the file comment for the layout. */
export async function renderCamFigure(rows: readonly CamRow[], opts: CamFigureOptions = {}): Promise<{ png: Buffer; svg: string }> {
  const layout = camFigureLayout(rows, opts);
  const L = CAM_LAYOUT;
  const alpha = opts.alpha ?? 0.5;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${layout.width}" height="${layout.height}" viewBox="0 0 ${layout.width} ${layout.height}">`,
    `<rect width="${layout.width}" height="${layout.height}" fill="white"/>`,
  ];
  if (opts.title) {
    const size = fitFont(opts.title, layout.width - 2 * L.pad, 14);
    parts.push(textEl(layout.width / 2, L.pad + 16, opts.title, size, ' font-weight="bold" text-anchor="middle"'));
  }
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] as CamRow;
    const rects = layout.rows[i]!.panels;
    const { width: w, height: h } = row.image;
    const first = rects[0] as Rect;
    const midY = first.y + first.h / 2;
    const labelX = L.pad + L.labelWidth / 2;
    parts.push(
      textEl(labelX, midY, row.label, fitFont(row.label, first.h + L.titleHeight, 12), ` font-weight="bold" text-anchor="middle" dominant-baseline="central" transform="rotate(-90 ${labelX} ${midY})"`),
    );
    const images = [row.image.rgb, ...row.panels.map((p) => overlayJet(row.image, p.map, alpha))];
    const titles = [opts.imageTitle ?? 'Image', ...row.panels.map((p) => `${p.layer} · ${row.className} ${row.probability.toFixed(3)}`)];
    for (let j = 0; j < images.length; j++) {
      const r = rects[j] as Rect;
      const uri = await pngDataUri(images[j] as Uint8Array, w, h, r.w, r.h);
      const cx = r.x + r.w / 2;
      parts.push(textEl(cx, r.y - 7, titles[j] as string, fitFont(titles[j] as string, layout.cellWidth, 11), ' text-anchor="middle"'));
      parts.push(`<image x="${r.x}" y="${r.y}" width="${r.w}" height="${r.h}" preserveAspectRatio="none" xlink:href="${uri}"/>`);
    }
  }
  // Colour bar: top row = 1, bottom row = 0.
  const bar = layout.colorBar;
  const barRgb = new Uint8Array(bar.w * bar.h * 3);
  for (let y = 0; y < bar.h; y++) {
    const c = jet(bar.h === 1 ? 1 : 1 - y / (bar.h - 1));
    for (let x = 0; x < bar.w; x++) for (let k = 0; k < 3; k++) barRgb[3 * (y * bar.w + x) + k] = Math.round(255 * c[k]!);
  }
  parts.push(`<image x="${bar.x}" y="${bar.y}" width="${bar.w}" height="${bar.h}" preserveAspectRatio="none" xlink:href="${await pngDataUri(barRgb, bar.w, bar.h, bar.w, bar.h)}"/>`);
  parts.push(`<rect x="${bar.x}" y="${bar.y}" width="${bar.w}" height="${bar.h}" fill="none" stroke="#444" stroke-width="1"/>`);
  for (const [v, text] of [[1, '1'], [0.5, '0.5'], [0, '0']] as const) {
    const ty = bar.y + (1 - v) * bar.h;
    parts.push(`<line x1="${bar.x + bar.w}" y1="${ty}" x2="${bar.x + bar.w + 4}" y2="${ty}" stroke="#444" stroke-width="1"/>`);
    parts.push(textEl(bar.x + bar.w + 7, ty, text, 11, ' dominant-baseline="central"'));
  }
  parts.push('</svg>');
  const svg = `${parts.join('\n')}\n`;
  const png = await sharp(Buffer.from(svg, 'utf8'), { density: 72 }).png({ compressionLevel: 9, adaptiveFiltering: false }).toBuffer();
  return { png, svg };
}
