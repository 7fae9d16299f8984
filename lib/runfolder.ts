// Run folders: config.json, split.json, metrics.jsonl, checkpoints, final.json.
// Whole-file writes are atomic (temp file + rename), so a killed run never leaves a
// half-written file; metrics.jsonl grows by whole lines.
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

export class RunFolder {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = resolve(dir);
    mkdirSync(this.dir, { recursive: true });
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  writeJson(name: string, value: unknown): void {
    writeJsonAtomic(this.path(name), value);
  }

  appendJsonLine(name: string, value: unknown): void {
    appendFileSync(this.path(name), `${JSON.stringify(value)}\n`);
  }

  /** The values of a JSON-lines file; none when it does not exist. */
  readJsonLines<T>(name: string): T[] {
    const path = this.path(name);
    if (!existsSync(path)) return [];
    return readFileSync(path, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as T);
  }

  /** Replaces a JSON-lines file with `values`, atomically. */
  writeJsonLines(name: string, values: readonly unknown[]): void {
    writeFileAtomic(this.path(name), values.map((v) => `${JSON.stringify(v)}\n`).join(''));
  }
}
