// Typed surface of the native Session (src-native/train/session_napi.cc).
import type { ImageSet } from './data.js';

export interface SessionOptions {
  model: string;
  numClasses: number;
  /** .pth or .safetensors with torchvision's keys; a head of another class count is skipped. */
  weights?: string;
  /** cpu | cuda | cuda:N | auto (default cpu) */
  device?: string;
  /** seeds LibTorch's generator before the model is initialised */
  seed?: number;
  /**
   * Mixed precision of forward passes (training, evaluate, predict), as torch.autocast:
   * 'fp32' (default, none), 'bf16' (CPU and CUDA) or 'fp16' (CUDA, with dynamic loss
   * scaling). Losses and the optimiser stay float32; LayerCAM always runs in float32.
   */
  precision?: Precision;
  /**
   * channels_last (NHWC) memory format for 4-D weights and input batches in everything
   * the session does (true), or NCHW everywhere (false). Absent: the training steps run
   * in channels_last for a convolutional model (but vgg19) on the CPU where LibTorch has
   * oneDNN (its convolutions train fastest so; THTL_CHANNELS_LAST=0 / =1 override that
   * default), and evaluate, predict, features and LayerCAM in NCHW, where they equal
   * torchvision to the bit. `info()` says which: channelsLast, trainChannelsLast.
   */
  channelsLast?: boolean;
  /**
   * On a GPU: let cuDNN autotune its convolution algorithms for the batch shapes (default
   * true, fastest), or pick deterministic ones (false: the same bits every run). Applied
   * while this session works and restored after, so other sessions keep their own.
   */
  cudnnBenchmark?: boolean;
}

export type Precision = 'fp32' | 'bf16' | 'fp16';

export interface SessionInfo {
  model: string;
  numClasses: number;
  device: string;
  inputSize: number;
  params: number;
  trainableParams: number;
  lr: number;
  frozenBatchNorm: 'train' | 'eval';
  precision: Precision;
  /** channels_last everywhere (SessionOptions.channelsLast true) */
  channelsLast: boolean;
  /** the training steps run in channels_last (channelsLast, or the CPU default) */
  trainChannelsLast: boolean;
  groups: string[];
  /** empty: every parameter trains */
  trainableGroups: string[];
  /** LayerCAM's default layers (the registry's camLayers; group names) */
  camLayers: string[];
  /** every layer name layerCam accepts (the groups with a spatial output), forward order */
  camLayerChoices: string[];
  /** the call now queued or running on this session (the latest of them), else null */
  busy: string | null;
}

export interface EpochStats {
  loss: number;
  accuracy: number;
  samples: number;
  batches: number;
  seconds: number;
  /** learning rate used during this epoch */
  lr: number;
}

export interface EvalResult {
  loss: number;
  seconds: number;
  n: number;
  numClasses: number;
  /** n x numClasses softmax probabilities, row-major */
  probs: Float32Array;
  labels: Int32Array;
  /** image-set indices evaluated, in order (images that failed to decode are left out) */
  indices: Int32Array;
}

export interface FeatureResult {
  n: number;
  dim: number;
  /** the group the features were taken from */
  layer: string;
  /** n x dim, row-major */
  features: Float32Array;
  /** image-set index of each row */
  indices: Int32Array;
  seconds: number;
}

export type BatchProgress = (batch: number, batches: number, loss: number) => void;

export interface StateKey {
  name: string;
  shape: number[];
  /** false for buffers (BatchNorm statistics, index tables) */
  parameter: boolean;
  trainable: boolean;
}

export interface LoraOptions {
  /** group names of info().groups; the head group (groups[0]) is never adapted */
  groups: string[];
  /** default 8 */
  rank?: number;
  /** default 16; the update is scaled by alpha / rank */
  alpha?: number;
}

export interface LoraReport {
  /** full module names that got lora_A / lora_B adapters */
  adapted: string[];
  /** modules of the named groups left alone, e.g. "grouped convolution (groups=32)" */
  skipped: { name: string; reason: string }[];
  /** parameters added by the adapters */
  loraParams: number;
  /** after applying: head + adapters */
  trainableParams: number;
  totalParams: number;
}

/** LayerCAM options (see docs/ARCHITECTURE.md, "LayerCAM"). */
export interface LayerCamOptions {
  /** group names (info().camLayerChoices); default info().camLayers */
  layers?: string[];
  /**
   * The class explained, per image (-1 = the predicted class, the default); a single
   * number applies to every image. The score is the class's logit (before softmax).
   */
  classes?: Int32Array | number[] | number;
  /** also combine the normalised layer maps per pixel: 'max' or 'mean' (default 'none') */
  fusion?: 'none' | 'max' | 'mean';
}

export interface LayerCamResult {
  /** the layers of `maps`, in the order asked for */
  layers: string[];
  /** float [n, layers.length, height, width], each map min-max normalised to [0, 1] per image */
  maps: Float32Array;
  /** float [n, height, width] with fusion 'max' / 'mean', else null */
  fused: Float32Array | null;
  /** the class explained per image (the predicted one where -1 was asked) */
  classes: Int32Array;
  /** float [n, numClasses] softmax probabilities of the same forward pass */
  probs: Float32Array;
  n: number;
  height: number;
  width: number;
  numClasses: number;
}

/**
 * A model being trained or used, held natively. Calls that compute return Promises and
 * run on the addon's compute thread in the order they were made (of every session);
 * they never block the event loop. info() and stateKeys() answer at once, also while an
 * epoch runs (as of the last finished call). The quick setters (setTrainableGroups,
 * setFrozenBatchNorm, configureOptimizer) apply at once and throw "the session is busy"
 * while a call of this session is still pending: await it first.
 */
export interface NativeSession {
  info(): SessionInfo;
  /** the model's state_dict keys in torchvision order, with shapes and flags */
  stateKeys(): StateKey[];
  loadWeights(path: string): Promise<{ loaded: number; skipped: string[] }>;
  replaceHead(numClasses: number): Promise<void>;
  /** only these groups train; [] makes every parameter trainable */
  setTrainableGroups(groups: string[]): void;
  /** BatchNorm of frozen groups: 'train' (statistics keep updating, the default) or 'eval' */
  setFrozenBatchNorm(mode: 'train' | 'eval'): void;
  configureOptimizer(options: { lr: number; stepSize?: number; gamma?: number }): void;
  trainEpoch(
    images: ImageSet,
    labels: Int32Array,
    options: { batchSize: number; seed: number; onProgress?: BatchProgress; signal?: AbortSignal },
  ): Promise<EpochStats>;
  evaluate(
    images: ImageSet,
    labels: Int32Array,
    options: { batchSize: number; onProgress?: BatchProgress; signal?: AbortSignal },
  ): Promise<EvalResult>;
  /**
   * Eval-mode features of the images of a set: the output of the group `layer` (default:
   * the last tappable one, the backbone's end; see camLayerChoices in info()) averaged over
   * its spatial positions (a ViT: over its patch tokens). Images that failed to decode are
   * left out; `indices` gives each row's image. Rejects on an unknown layer.
   */
  features(images: ImageSet, options?: { batchSize?: number; layer?: string; onProgress?: BatchProgress; signal?: AbortSignal }): Promise<FeatureResult>;
  predict(input: Float32Array, shape: number[]): Promise<{ data: Float32Array; shape: number[] }>;
  /**
   * LayerCAM of a batch (eval mode; one forward and one backward pass for the batch).
   * `input` is float [n, 3, size, size] normalised as evaluation does: RGB / 255, minus
   * ImageNet mean [0.485, 0.456, 0.406], divided by std [0.229, 0.224, 0.225] -- exactly
   * what `imageSet.batch(indices, false, 0)` returns. Use layerCamImages to skip the copy.
   * Rejects on an unknown layer (listing the valid ones), a class outside -1..numClasses-1
   * or an input size the model cannot take.
   */
  layerCam(input: Float32Array, options: LayerCamOptions & { n: number; size: number }): Promise<LayerCamResult>;
  /** LayerCAM of images of an image set, batched exactly as evaluate() batches them. */
  layerCamImages(images: ImageSet, indices: number[] | Int32Array, options?: LayerCamOptions): Promise<LayerCamResult>;
  saveCheckpoint(path: string, metaJson: string): Promise<void>;
  /** resolves with the metadata JSON string saved with the checkpoint */
  loadCheckpoint(path: string): Promise<string>;
  /**
   * With LoRA adapters: merged weights under the plain model's keys (default), or with
   * mergeLora false the raw base weights plus the lora_A / lora_B keys.
   */
  saveWeights(path: string, options?: { mergeLora?: boolean }): Promise<void>;
  /**
   * LoRA adapters on the Conv2d/Linear modules of `groups` (grouped convs are skipped).
   * Afterwards only the head group and the adapters train. Call it before loadCheckpoint
   * of a checkpoint saved with adapters, with the same settings. saveWeights writes merged
   * weights (plain model keys).
   */
  applyLora(options: LoraOptions): Promise<LoraReport>;
  /** folds the adapters into the base weights and removes them; no-op without adapters */
  mergeLora(): Promise<void>;
  /**
   * Frees the model, its gradients and optimizer state once the calls made before it
   * have run; any later call throws. Idempotent.
   */
  dispose(): Promise<void>;
}

export interface SessionApi {
  Session: { create(options: SessionOptions): Promise<NativeSession> };
}
