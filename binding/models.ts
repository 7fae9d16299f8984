// Typed surface of the native models exports.
export interface ModelsApi {
  readonly __placeholder?: never;
}
