// Typed surface of the native model registry (src-native/models/).
export interface ModelGroup {
  name: string;
  /** state_dict key prefixes of the group */
  prefixes: string[];
}

export interface ModelInfo {
  name: string;
  inputSize: number;
  fixedInputSize: boolean;
  /** attention blocks (vision transformers); --precision auto keeps these fp32 */
  transformer: boolean;
  /** bfloat16 training needs a CPU kernel LibTorch 1.x lacks; --precision auto keeps it fp32 there */
  bf16NeedsLibTorch2: boolean;
  defaultLr: number;
  headPrefixes: string[];
  /** ordered from head to stem */
  groups: ModelGroup[];
  camLayers: string[];
  /** parameter count with the 1000-class ImageNet head */
  params: number;
  /** torchvision's published ImageNet weight file; its name ends in the file's SHA-256 prefix */
  imagenetWeights: string;
  /** per-channel normalisation of the input the weights expect (RGB in [0, 1]) */
  mean: number[];
  std: number[];
}

export interface ModelsApi {
  models(): ModelInfo[];
}
