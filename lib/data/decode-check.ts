// A full decode of image files with the decoder training uses, to find the files that
// training would fail on (a header can be fine while the data is cut off).
import { native } from '../../binding/index.js';

export interface DecodeCheckOptions {
  /** decode threads (0 or unset: every hardware thread) */
  threads?: number;
  /** stops the check between images (the promise rejects with an AbortError) */
  signal?: AbortSignal;
  /** files checked so far, of all */
  onProgress?: (done: number, total: number) => void;
}

/** Files decoded per build: bounds the memory of the decoded (tiny) images on large datasets. */
const CHUNK = 4096;
/** Side the images are resized to: small, as only whether they decode matters. */
const SIZE = 32;

/** Decodes every file in full (no cache); returns those that fail, with the reason, in file order. */
export async function decodeCheck(files: readonly string[], options: DecodeCheckOptions = {}): Promise<{ file: string; reason: string }[]> {
  const failures: { file: string; reason: string }[] = [];
  for (let start = 0; start < files.length; start += CHUNK) {
    options.signal?.throwIfAborted();
    const chunk = files.slice(start, start + CHUNK);
    const set = await native().ImageSet.build(chunk, SIZE, {
      skipBad: true,
      ...(options.threads ? { threads: options.threads } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onProgress ? { onProgress: (done: number) => options.onProgress!(start + done, files.length) } : {}),
    });
    for (const f of set.failures()) failures.push({ file: f.file, reason: f.reason });
  }
  return failures;
}
