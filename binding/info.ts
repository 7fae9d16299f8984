// Typed surface of the native info exports.
export interface InfoApi {
  readonly __placeholder?: never;
}
