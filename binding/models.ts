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
  defaultLr: number;
  headPrefixes: string[];
  /** ordered from head to stem */
  groups: ModelGroup[];
  camLayers: string[];
  /** parameter count with the 1000-class ImageNet head */
  params: number;
}

export interface ModelsApi {
  models(): ModelInfo[];
}
