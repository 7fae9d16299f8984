// A weight file that does not fit the model, in one line. The native loader lists every
// missing, unexpected and mismatched tensor (dozens of lines); the command line says what
// the file holds instead: "resnet18 weights (fc 512x2) given for mobilenet_v2".
import { native } from '../../binding/index.js';
import type { WeightEntry } from '../../binding/weights.js';

/** Buffers (running statistics, position tables): in a state dict, not in a model's parameter count. */
const BUFFER = /(running_mean|running_var|num_batches_tracked|relative_position_index|relative_coords_table)$/;

const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/** The classifier of a state dict: its last 2-D weight (a Linear: out x in). */
function headOf(entries: WeightEntry[]): { name: string; in: number; out: number } | null {
  const head = [...entries].reverse().find((e) => e.shape.length === 2 && e.name.endsWith('.weight'));
  return head ? { name: head.name.replace(/\.weight$/, ''), in: head.shape[1]!, out: head.shape[0]! } : null;
}

/**
 * The registry model whose parameters these are (with the classifier resized to the
 * file's class count), or null. The parameter counts of the registry are for 1000 classes.
 */
export function modelOfWeights(entries: WeightEntry[]): string | null {
  const head = headOf(entries);
  if (!head) return null;
  const params = entries.filter((e) => !BUFFER.test(e.name)).reduce((a, e) => a + size(e.shape), 0);
  const withHead = (m: { params: number }) => m.params - (head.in * 1000 + 1000) + (head.in * head.out + head.out);
  const found = native().models().filter((m) => withHead(m) === params);
  return found.length === 1 ? found[0]!.name : null;
}

/** The lists of a native "do not fit" message, each as its count and first item: "260 missing (e.g. features.0.0.weight)". */
function tally(message: string): string {
  const label: Record<string, string> = { missing: 'missing', unexpected: 'unexpected', shape: 'of another shape' };
  return [...message.matchAll(/\n {2}(\d+) (missing|unexpected|shape)[^:\n]*:\n {4}([^\n]*)/g)]
    .map((m) => `${m[1]} ${label[m[2]!]} (e.g. ${m[3]})`)
    .join(', ');
}

/**
 * One line for the native "the weights do not fit the model" error of `file` given for
 * `model`; other errors are returned as they are.
 */
export async function weightsMismatchError(err: unknown, file: string, model: string): Promise<unknown> {
  const message = err instanceof Error ? err.message : String(err);
  if (!message.includes('the weights do not fit the model')) return err;
  let entries: WeightEntry[] = [];
  try {
    entries = await native().readWeights(file);
  } catch {
    // the loader read it a moment ago; keep to what its message says
  }
  const head = headOf(entries);
  const source = modelOfWeights(entries);
  const what = source && source !== model ? `holds ${source} weights${head ? ` (${head.name} ${head.in}x${head.out})` : ''}, given for ${model}` : `does not fit ${model}`;
  const lists = tally(message);
  return new Error(`${file} ${what}${lists ? `: tensors ${lists}` : ''}; nothing was loaded`);
}
