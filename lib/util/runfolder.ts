// Run folders: config.json, split.json, metrics.jsonl, checkpoints, final.json.
// Whole-file writes are atomic (temp file + rename), so a killed run never leaves a
// half-written file; metrics.jsonl grows by whole lines.
import { accessSync, appendFileSync, constants, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** "cannot write <path>: the disk is full (ENOSPC)" and the like, for a failed file operation. */
export function fileError(action: string, path: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException).code;
  const why: Record<string, string> = {
    ENOSPC: 'the disk is full',
    EDQUOT: 'the disk quota is used up',
    EROFS: 'the file system is read-only',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    ENOENT: 'a folder on the way does not exist',
    ENOTDIR: 'a file stands where a folder should be',
  };
  const reason = code && why[code] ? `${why[code]} (${code})` : err instanceof Error ? err.message : String(err);
  return new Error(`cannot ${action} ${path}: ${reason}`);
}

/**
 * Node's recursive mkdir says ENOENT where a parent cannot be made (a read-only file
 * system, no permission): the nearest existing parent tells the real cause.
 */
function whyNotCreated(dir: string, err: unknown): unknown {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return err;
  let parent = dirname(dir);
  while (!existsSync(parent) && dirname(parent) !== parent) parent = dirname(parent);
  try {
    accessSync(parent, constants.W_OK);
  } catch (cause) {
    return cause;
  }
  return err;
}

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw fileError('write', path, err);
  }
}

export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * The records of a JSON-lines file ([] when it does not exist). An unfinished last line
 * (no line break: a write cut short by a kill or a full disk) is left out; any other line
 * that is not JSON is an error naming the file and line.
 */
export function readJsonLinesFile<T>(path: string): T[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n');
  const complete = text.endsWith('\n') ? lines : lines.slice(0, -1);
  return complete.flatMap((l, i) => {
    if (l.trim() === '') return [];
    try {
      return [JSON.parse(l) as T];
    } catch {
      throw new Error(`${path}: line ${i + 1} is not JSON (${l.slice(0, 60)}); the file is damaged`);
    }
  });
}

/** The files a training run writes; any of them makes a folder a run's (folds.json: a cross-validation's, lib/train/cv.ts). */
const RUN_FILES = ['final.json', 'config.json', 'metrics.jsonl', 'last.ckpt', 'best.ckpt', 'weights.safetensors', 'folds.json'];

/**
 * What run `dir` holds, in words ("a finished run (final.json)", "an unfinished run
 * (3 epochs in metrics.jsonl)", "a cross-validation (folds.json)"), or null when it holds
 * none (absent, empty, other files).
 */
export function runIn(dir: string): string | null {
  const at = (name: string) => join(dir, name);
  if (!existsSync(dir) || !RUN_FILES.some((f) => existsSync(at(f)))) return null;
  if (existsSync(at('folds.json'))) return `a ${existsSync(at('cv.json')) ? 'finished' : 'unfinished'} cross-validation (folds.json)`;
  if (existsSync(at('final.json'))) return 'a finished run (final.json)';
  let epochs = 0;
  try {
    epochs = readJsonLinesFile(at('metrics.jsonl')).length;
  } catch {
    // a damaged metrics file still makes it a run
  }
  return `an unfinished run (${epochs} finished epoch${epochs === 1 ? '' : 's'} in metrics.jsonl)`;
}

/** Whether `dir` holds a study (study.json). */
export function studyIn(dir: string): boolean {
  return existsSync(join(dir, 'study.json'));
}

/** Where moveAside puts `dir` now: `<dir>.replaced-<UTC time>` (a free name). */
export function asideName(dir: string, now = new Date()): string {
  const stamp = now.toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-');
  let name = `${resolve(dir)}.replaced-${stamp}`;
  for (let k = 2; existsSync(name); k++) name = `${resolve(dir)}.replaced-${stamp}-${k}`;
  return name;
}

/** Moves folder `dir` aside (a rename, nothing deleted) and returns where it went. */
export function moveAside(dir: string): string {
  const to = asideName(dir);
  try {
    renameSync(resolve(dir), to);
  } catch (err) {
    throw fileError('move aside', resolve(dir), err);
  }
  return to;
}

/** The file names of `dir` (none when it does not exist). */
export function filesIn(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}

export class RunFolder {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = resolve(dir);
    try {
      mkdirSync(this.dir, { recursive: true });
    } catch (err) {
      throw fileError('create the run folder', this.dir, whyNotCreated(this.dir, err));
    }
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  writeJson(name: string, value: unknown): void {
    writeJsonAtomic(this.path(name), value);
  }

  /** Appends one line; a failed append (a full disk) is cut back off, leaving whole lines only. */
  appendJsonLine(name: string, value: unknown): void {
    const path = this.path(name);
    const before = existsSync(path) ? statSync(path).size : 0;
    try {
      appendFileSync(path, `${JSON.stringify(value)}\n`);
    } catch (err) {
      try {
        if (existsSync(path)) truncateSync(path, before);
      } catch {
        // the reader drops an unfinished last line anyway
      }
      throw fileError('write', path, err);
    }
  }

  /** The values of a JSON-lines file of this folder (readJsonLinesFile). */
  readJsonLines<T>(name: string): T[] {
    return readJsonLinesFile<T>(this.path(name));
  }

  /** Replaces a JSON-lines file with `values`, atomically. */
  writeJsonLines(name: string, values: readonly unknown[]): void {
    writeFileAtomic(this.path(name), values.map((v) => `${JSON.stringify(v)}\n`).join(''));
  }
}
