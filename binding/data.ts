// Typed surface of the native data exports: image decode/encode and the decoded-image set.

/** A file that could not be decoded while building an ImageSet with `skipBad: true`. */
export interface DecodeFailure {
  /** Position of the file in the `files` array given to `ImageSet.build`. */
  index: number;
  file: string;
  reason: string;
}

export interface ImageSetBuildOptions {
  /** Decode threads (default: the number of hardware threads). */
  threads?: number;
  /** Record undecodable files (their images stay all-zero) instead of rejecting. */
  skipBad?: boolean;
  /** Called on the main thread as files are decoded (throttled); always reaches (total, total). */
  onProgress?: (done: number, total: number) => void;
}

/** Decoded, resized images (uint8 RGB, size x size), kept in native memory. */
export interface ImageSet {
  /** Number of files (including those that failed to decode). */
  readonly count: number;
  /** Side length of every image. */
  readonly size: number;
  /** Files that failed to decode (only with `skipBad: true`), sorted by index. */
  failures(): DecodeFailure[];
  /** A copy of image `index`: uint8, channel-major [3, size, size]. */
  pixels(index: number): Uint8Array;
  /**
   * A normalised float batch [indices.length, 3, size, size] (ImageNet mean/std); with
   * `augment`, each image is flipped horizontally with p = 0.5 drawn from mt19937_64(seed).
   */
  batch(indices: number[], augment: boolean, seed: number): Float32Array;
}

export interface ImageSetClass {
  /** Decodes and resizes `files` (JPEG/PNG by content) off the main thread. */
  build(files: string[], size: number, options?: ImageSetBuildOptions): Promise<ImageSet>;
  readonly prototype: ImageSet;
}

export interface DataApi {
  ImageSet: ImageSetClass;
  /** Decodes a JPEG or PNG and resizes it (PIL-style bilinear) to size x size; CHW uint8. */
  decodeResized(path: string, size: number): Uint8Array;
  /** Writes interleaved RGB (height * width * 3 bytes) as .jpg/.jpeg or .png, atomically. */
  encodeImage(path: string, rgb: Uint8Array, width: number, height: number, quality?: number): void;
}
