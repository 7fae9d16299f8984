import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { CAM_LAYOUT, camFigureLayout, jet, overlayJet, renderCamFigure, type CamRow } from '../../lib/report/cam-figure.js';

const W = 32;
const H = 32;
const LAYERS = ['layer1', 'layer2', 'layer3', 'layer4'];

function row(label: string, value: number, grey = 100): CamRow {
  return {
    label,
    image: { width: W, height: H, rgb: new Uint8Array(W * H * 3).fill(grey) },
    panels: LAYERS.map((layer) => ({ layer, map: new Float32Array(W * H).fill(value) })),
    className: 'malignant',
    probability: 0.98765,
  };
}

describe('jet colormap (matplotlib definition)', () => {
  it('ends and middle', () => {
    expect(jet(0)).toEqual([0, 0, 0.5]);
    expect(jet(1)).toEqual([0.5, 0, 0]);
    // matplotlib: cm.jet(128) = (0.4902, 1.0, 0.4775) at x = 128/255
    const mid = jet(128 / 255);
    expect(mid[0]).toBeCloseTo(0.4902, 4);
    expect(mid[1]).toBe(1);
    expect(mid[2]).toBeCloseTo(0.4775, 4);
    expect(jet(2)).toEqual(jet(1));
    expect(jet(Number.NaN)).toEqual(jet(0));
  });

  it('blends with alpha 0.5', () => {
    const img = { width: 1, height: 2, rgb: new Uint8Array([100, 100, 100, 0, 0, 0]) };
    expect([...overlayJet(img, new Float32Array([1, 0]))]).toEqual([114, 50, 50, 0, 0, 64]);
  });
});

describe('LayerCAM figure', () => {
  it('2 rows x 4 layers: size follows the layout, all-ones is red, all-zeros dark blue', async () => {
    const rows = [row('resnet50** run 1', 1), row('resnet50++ run 1', 0)];
    const layout = camFigureLayout(rows);
    const L = CAM_LAYOUT;
    // 32 px images are upscaled to 160; 5 columns (image + 4 layers), colour bar at the right.
    expect(layout.columns).toBe(5);
    expect(layout.cellWidth).toBe(160);
    expect(layout.width).toBe(L.pad + L.labelWidth + 5 * 160 + 4 * L.gap + L.barGap + L.barWidth + L.barLabelWidth + L.pad);
    expect(layout.height).toBe(L.pad + 2 * (L.titleHeight + 160) + L.rowGap + L.pad);
    expect(layout.colorBar.h).toBe(2 * 160 + L.titleHeight + L.rowGap);

    const { png, svg } = await renderCamFigure(rows);
    expect(svg).toContain('layer3 · malignant 0.988');
    expect(svg).toContain('>resnet50** run 1<');
    expect((svg.match(/<image /g) ?? []).length).toBe(2 * 5 + 1);
    const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([layout.width, layout.height]);
    const pixel = (x: number, y: number): number[] => {
      const i = (Math.round(y) * info.width + Math.round(x)) * info.channels;
      return [data[i]!, data[i + 1]!, data[i + 2]!];
    };
    const centre = (r: number, p: number): number[] => {
      const rect = layout.rows[r]!.panels[p]!;
      return pixel(rect.x + rect.w / 2, rect.y + rect.h / 2);
    };
    const close = (got: number[], want: number[]) => got.forEach((v, k) => expect(Math.abs(v - want[k]!), `${got} vs ${want}`).toBeLessThanOrEqual(2));
    for (let p = 1; p <= 4; p++) {
      close(centre(0, p), [114, 50, 50]); // 0.5 * grey 100 + 0.5 * jet(1) = (127.5, 0, 0)
      close(centre(1, p), [50, 50, 114]); // 0.5 * grey 100 + 0.5 * jet(0) = (0, 0, 127.5)
    }
    close(centre(0, 0), [100, 100, 100]); // the image itself
    // colour bar: 1 (dark red) at the top, 0 (dark blue) at the bottom
    const bar = layout.colorBar;
    const barColour = (row: number) => jet(1 - row / (bar.h - 1)).map((c) => Math.round(255 * c));
    close(pixel(bar.x + bar.w / 2, bar.y + 3), barColour(3)); // ~(134, 0, 0)
    close(pixel(bar.x + bar.w / 2, bar.y + bar.h - 4), barColour(bar.h - 4)); // ~(0, 0, 137)
    close(pixel(bar.x + bar.w / 2, bar.y + bar.h / 2), barColour(bar.h / 2)); // green-yellow
  });

  it('keeps large images at their size and checks shapes', () => {
    const big: CamRow = {
      label: 'x',
      image: { width: 224, height: 200, rgb: new Uint8Array(224 * 200 * 3) },
      panels: [{ layer: 'layer1', map: new Float32Array(224 * 200) }],
      className: 'benign',
      probability: 0.5,
    };
    const layout = camFigureLayout([big], { title: 'T' });
    expect(layout.rows[0]!.panels[1]).toMatchObject({ w: 224, h: 200, y: CAM_LAYOUT.pad + CAM_LAYOUT.headerHeight + CAM_LAYOUT.titleHeight });
    expect(() => camFigureLayout([{ ...big, panels: [{ layer: 'bad', map: new Float32Array(10) }] }])).toThrow(/expected 44800/);
    expect(() => camFigureLayout([])).toThrow(/no rows/);
  });
});
