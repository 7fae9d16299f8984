// torchvision's published ImageNet weight files (the IMAGENET1K_V1 weights of each
// architecture, names exactly as published), finding them in --weights-dir, and
// downloading one when the machine is online. torchvision names every file
// `<name>-<first 8 hex digits of its SHA-256>.pth`; a download is checked against it.
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { native } from '../../binding/index.js';

export const WEIGHTS_BASE_URL = 'https://download.pytorch.org/models/';

/** Model name -> published file name (ImageNet-1k, torchvision's V1 weights, as the paper used), from the registry. */
export function imagenetWeightFiles(): Readonly<Record<string, string>> {
  return Object.fromEntries(native().models().map((m) => [m.name, m.imagenetWeights]));
}

export function publishedFile(model: string): string {
  const files = imagenetWeightFiles();
  const file = files[model];
  if (!file) throw new Error(`no published ImageNet weights known for '${model}' (known: ${Object.keys(files).join(', ')})`);
  return file;
}

/** The 8-hex-digit SHA-256 prefix in a torchvision file name. */
export function hashPrefix(file: string): string {
  const m = /-([0-9a-f]{8,})\.pth$/.exec(file);
  if (!m) throw new Error(`'${file}' has no hash prefix in its name`);
  return m[1]!;
}

function hint(file: string, dir: string, model?: string): string {
  return `download ${WEIGHTS_BASE_URL}${file} by hand and put it in ${resolve(dir)} as ${file}` +
    (model ? ` (or run \`thtl-native weights fetch ${model} --dir ${dir}\` on a machine that is online)` : '');
}

export function manualDownloadHint(model: string, dir: string): string {
  return hint(publishedFile(model), dir, model);
}

/** The ImageNet weight file of `model` in `dir`; a clear error saying what to fetch when it is not there. */
export function findImagenetWeights(model: string, dir: string): string {
  const path = join(dir, publishedFile(model));
  if (!existsSync(path)) throw new Error(`ImageNet weights for ${model} are missing: ${path} does not exist; ${manualDownloadHint(model, dir)}`);
  return path;
}

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

export interface FetchOptions {
  dir: string;
  /** base URL (tests point it at a local server) */
  baseUrl?: string;
  onProgress?: (bytes: number, total: number | null) => void;
}

/** Downloads `model`'s published file into dir (skipped when a verified copy is there) and checks its hash prefix. */
export function fetchWeights(model: string, o: FetchOptions): Promise<{ path: string; downloaded: boolean }> {
  return fetchPublished(publishedFile(model), o, model);
}

/** Downloads one file named `<name>-<sha256 prefix>.pth` from the base URL and checks the prefix. */
export async function fetchPublished(file: string, o: FetchOptions, model?: string): Promise<{ path: string; downloaded: boolean }> {
  const prefix = hashPrefix(file);
  mkdirSync(o.dir, { recursive: true });
  const path = join(o.dir, file);
  if (existsSync(path)) {
    if (sha256File(path).startsWith(prefix)) return { path, downloaded: false };
    throw new Error(`${path} exists but its SHA-256 does not start with ${prefix}: delete it and fetch again`);
  }
  const url = `${o.baseUrl ?? WEIGHTS_BASE_URL}${file}`;
  let response: Response;
  try {
    response = await fetch(url);
  } catch (err) {
    throw new Error(`cannot reach ${url} (${(err as Error).cause ? String((err as Error & { cause: unknown }).cause) : (err as Error).message}); this machine looks offline: ${hint(file, o.dir, model)}`);
  }
  if (!response.ok || !response.body) throw new Error(`downloading ${url} failed: HTTP ${response.status}; ${hint(file, o.dir, model)}`);
  const total = Number(response.headers.get('content-length')) || null;
  const tmp = `${path}.part-${process.pid}`;
  const hash = createHash('sha256');
  let bytes = 0;
  const body = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>);
  body.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    bytes += chunk.length;
    o.onProgress?.(bytes, total);
  });
  try {
    await pipeline(body, createWriteStream(tmp));
    const digest = hash.digest('hex');
    if (!digest.startsWith(prefix)) throw new Error(`downloaded ${url} but its SHA-256 ${digest.slice(0, 16)}... does not start with ${prefix}; the file was not kept`);
    renameSync(tmp, path);
  } finally {
    rmSync(tmp, { force: true });
  }
  return { path, downloaded: true };
}
