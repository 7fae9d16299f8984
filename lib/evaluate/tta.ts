// Test-time augmentation of evaluate and predict (`--tta flip`): the softmax probabilities
// of each image averaged with those of its horizontal mirror. The mirror is made of the
// very pixels the evaluation decoded (ImageSet.pixels), normalised with the model's mean
// and std by the table the native batches use ((v / 255 - mean) / std in double, kept as
// float32), and run through Session.predict: eval mode with the run's precision and
// channels_last, as Session.evaluate runs the unmirrored batch. A run's temperature then
// applies to the averaged probabilities (scaleProbs takes their logs as logits).
import { native } from '../../binding/index.js';
import type { ImageSet } from '../../binding/data.js';
import type { EvalResult, NativeSession } from '../../binding/session.js';
import { logitsFromProbs, softmax, temperatureNll } from '../stats/calibration.js';
import { probRows } from '../train/predictions.js';

export const TTA_MODES = ['none', 'flip'] as const;
export type Tta = (typeof TTA_MODES)[number];

/** The one-line refusal of a TTA mode that is not one, or null. */
export function ttaProblem(tta: string | undefined): string | null {
  return tta === undefined || (TTA_MODES as readonly string[]).includes(tta) ? null : `--tta must be ${TTA_MODES.join(' or ')}, got '${tta}'`;
}

/** Per channel, the float the model's batches hold for each 8-bit value. */
function normalisationTable(model: string): Float32Array[] {
  const info = native().models().find((m) => m.name === model);
  if (!info) throw new Error(`model ${model} is not in the registry`);
  return [0, 1, 2].map((c) => Float32Array.from({ length: 256 }, (_, v) => (v / 255 - info.mean[c]!) / info.std[c]!));
}

/** A normalised float batch [n, 3, size, size] of the horizontal mirrors of images `indices`. */
export function mirroredBatch(set: ImageSet, indices: readonly number[], table: readonly Float32Array[]): Float32Array {
  const s = set.size;
  const plane = s * s;
  const out = new Float32Array(indices.length * 3 * plane);
  for (const [k, i] of indices.entries()) {
    const px = set.pixels(i);
    for (let c = 0; c < 3; c++) {
      const lut = table[c]!;
      const base = (k * 3 + c) * plane;
      for (let y = 0; y < s; y++) for (let x = 0; x < s; x++) out[base + y * s + x] = lut[px[c * plane + y * s + (s - 1 - x)]!]!;
    }
  }
  return out;
}

/** Softmax probabilities of the mirrors of images `indices` of `set`, one row per image, in `batchSize` batches. */
export async function mirroredProbs(session: NativeSession, model: string, set: ImageSet, indices: readonly number[], batchSize: number): Promise<number[][]> {
  const table = normalisationTable(model);
  const rows: number[][] = [];
  for (let start = 0; start < indices.length; start += batchSize) {
    const idx = indices.slice(start, start + batchSize);
    const y = await session.predict(mirroredBatch(set, idx, table), [idx.length, 3, set.size, set.size]);
    const k = y.shape[1]!;
    for (let j = 0; j < idx.length; j++) rows.push(softmax(Array.from(y.data.subarray(j * k, (j + 1) * k))));
  }
  return rows;
}

/**
 * The probabilities of an evaluation `r` of `set` under `tta` (one row per evaluated image,
 * before any temperature), and their mean cross-entropy: 'none', the evaluation's own;
 * 'flip', each row averaged with its image's mirror's.
 */
export async function ttaProbs(tta: Tta, session: NativeSession, model: string, set: ImageSet, r: EvalResult, batchSize: number): Promise<{ probs: number[][]; loss: number }> {
  const own = probRows(r);
  if (tta === 'none') return { probs: own, loss: r.loss };
  const mirrored = await mirroredProbs(session, model, set, Array.from(r.indices), batchSize);
  const probs = own.map((row, i) => row.map((p, c) => (p + mirrored[i]![c]!) / 2));
  return { probs, loss: probs.length > 0 ? temperatureNll(logitsFromProbs(probs), Array.from(r.labels), 1) : 0 };
}
