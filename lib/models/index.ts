// The model registry as the TypeScript layer sees it (the architectures live in
// src-native/models/): a model's facts, the input size a run uses, its parameter groups,
// and its published ImageNet weight files (weights.ts). Import registry helpers from here.
import { native } from '../../binding/index.js';
import type { ModelInfo } from '../../binding/models.js';

export type { ModelInfo } from '../../binding/models.js';
export * from './weights.js';

/**
 * The error for a model name the registry does not know. The one TS copy of the text that
 * src-native/models/registry.cc (findModel) throws, so both read the same.
 */
export function unknownModelError(name: string, known: readonly string[]): Error {
  return new Error(`unknown model '${name}' (known models: ${known.join(', ')})`);
}

/** The registry's facts about `name`; an error naming it and the known models when there is none. */
export function findModelInfo(name: string): ModelInfo {
  const all = native().models();
  const info = all.find((m) => m.name === name);
  if (!info) throw unknownModelError(name, all.map((m) => m.name));
  return info;
}

/** The input size a run uses: the registry's, or an override the architecture allows. */
export function resolveInputSize(info: ModelInfo, requested?: number): number {
  if (requested === undefined) return info.inputSize;
  if (!Number.isInteger(requested) || requested < 32)
    throw new Error(`inputSize must be an integer >= 32, got ${requested}`);
  if (info.fixedInputSize && requested !== info.inputSize)
    throw new Error(`${info.name} only takes ${info.inputSize}x${info.inputSize} input (its position embeddings/windows are fixed)`);
  return requested;
}

/** The names of the parameter groups of `model` (stem, stages, head); throws for an unknown model. */
export function modelGroups(model: string): string[] {
  return findModelInfo(model).groups.map((g) => g.name);
}

/** A convolutional model: every registry model but the transformers (the registry's `transformer` flag). */
export function isConvolutional(model: string): boolean {
  return !findModelInfo(model).transformer;
}

/** Whether `model`'s bfloat16 training needs a CPU kernel LibTorch 1.x lacks (the registry's `bf16NeedsLibTorch2`). */
export function bf16NeedsLibTorch2(model: string): boolean {
  return findModelInfo(model).bf16NeedsLibTorch2;
}
