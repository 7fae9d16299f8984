// Typed surface of the native session exports.
export interface SessionApi {
  readonly __placeholder?: never;
}
