// Typed surface of the native weights exports.
export interface WeightsApi {
  readonly __placeholder?: never;
}
