// Typed surface of the native weights exports.

/** Element types a weight file can hold (the original dtype, before conversion to float32). */
export type WeightDtype =
  | 'float32'
  | 'float16'
  | 'bfloat16'
  | 'float64'
  | 'int64'
  | 'int32'
  | 'int16'
  | 'int8'
  | 'uint8'
  | 'bool'
  | 'complex64'
  | 'complex128';

/** One tensor of a weight file, its values converted to float32 for inspection. */
export interface WeightEntry {
  name: string;
  /** The dtype stored in the file. */
  dtype: WeightDtype;
  shape: number[];
  /** Row-major values, converted to float32 (bools as 0/1; large int64 values lose precision). */
  data: Float32Array;
}

/** A tensor to write. `dtype` (default 'float32') is the dtype to store the values as. */
export interface WeightInput {
  name: string;
  shape: number[];
  data: Float32Array;
  dtype?: Exclude<WeightDtype, 'complex64' | 'complex128'>;
}

/** Result of the internal `_testLoadStateDict` hook. */
export interface TestLoadResult {
  /** The UserError message, or null when the load succeeded. */
  error: string | null;
  loaded: string[];
  skipped: string[];
  /** Whether the module's state equals its state before the load attempt. */
  unchanged: boolean;
  /** The module's state_dict after the attempt, in torchvision order. */
  state: WeightEntry[];
}

export interface WeightsApi {
  /**
   * Reads a PyTorch zip-format .pth (a state_dict, plain dict, or one nested under
   * "state_dict"/"model") or a .safetensors file; the format is chosen by content.
   * Throws an Error naming the file and what is wrong with it.
   */
  readWeights(path: string): WeightEntry[];
  /** Writes a .safetensors file atomically (temp file + rename), entries in the given order. */
  writeSafetensors(path: string, entries: WeightInput[]): void;
  /**
   * @internal Test hook: builds a small torchvision-style module (features = [Conv2d(3,4,3,
   * padding=1, bias=False), BatchNorm2d(4), ReLU()], classifier = Linear(4, numClasses)) and
   * loads the file into it with loadStateDict.
   */
  _testLoadStateDict(path: string, numClasses: number, skipPrefixes?: string[]): TestLoadResult;
}
