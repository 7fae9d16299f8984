// Typed surface of the native data exports.
export interface DataApi {
  readonly __placeholder?: never;
}
