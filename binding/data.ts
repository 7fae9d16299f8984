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
  /**
   * Called on the main thread as files are decoded (throttled); always reaches (total, total).
   * With `cacheDir`, `done` starts at the number of images already in the cache.
   */
  onProgress?: (done: number, total: number) => void;
  /**
   * Decode into a persistent, memory-mapped cache in this folder (created if missing),
   * shared by every build of the same file list at the same size: unchanged files are
   * not decoded again, an interrupted build resumes, changed files are re-decoded.
   * Without it the images are decoded into memory.
   */
  cacheDir?: string;
  /**
   * Aborts the build (checked after each image): the promise rejects with an AbortError.
   * With `cacheDir`, the images decoded so far stay in the cache and a rebuild reuses them.
   */
  signal?: AbortSignal;
}

/** What a build did. */
export interface ImageSetStats {
  /** Images decoded by this build (including failures). */
  decoded: number;
  /** Images taken from the disk cache without decoding (including cached failures). */
  reused: number;
  /** Images that could not be decoded (= failures().length). */
  failed: number;
  /** The memory-mapped cache file, or null when the images are in memory. */
  cacheFile: string | null;
}

/** Decoded, resized images (uint8 RGB, size x size), in native memory or a mapped disk cache. */
export interface ImageSet {
  /** Number of files (including those that failed to decode). */
  readonly count: number;
  /** Side length of every image. */
  readonly size: number;
  /** Files that failed to decode (only with `skipBad: true`), sorted by index. */
  failures(): DecodeFailure[];
  /** Decode / reuse counts of the build that made this set. */
  stats(): ImageSetStats;
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
