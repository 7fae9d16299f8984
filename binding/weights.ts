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

export interface WeightsApi {
  /**
   * Reads a PyTorch zip-format .pth (a state_dict, plain dict, or one nested under
   * "state_dict"/"model") or a .safetensors file; the format is chosen by content.
   * Rejects with an Error naming the file and what is wrong with it.
   */
  readWeights(path: string): Promise<WeightEntry[]>;
  /** Writes a .safetensors file atomically (temp file + rename), entries in the given order. */
  writeSafetensors(path: string, entries: WeightInput[]): Promise<void>;
}
