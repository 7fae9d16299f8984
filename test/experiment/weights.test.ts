// ImageNet weight files: published names, finding them, and fetching with hash checks
// (against a local HTTP server standing in for download.pytorch.org).
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { fetchPublished, fetchWeights, findImagenetWeights, hashPrefix, imagenetWeightFiles, publishedFile } from '../../lib/models/weights.js';
import { native } from '../../binding/index.js';
import { tempDir } from '../helpers/images.js';

describe('ImageNet weight files', () => {
  it('has a published file for every registry model', () => {
    expect(Object.keys(imagenetWeightFiles()).sort()).toEqual(native().models().map((m) => m.name).sort());
    expect(publishedFile('resnet50')).toBe('resnet50-0676ba61.pth');
    expect(hashPrefix('inception_v3_google-0cc3c7bd.pth')).toBe('0cc3c7bd');
    expect(() => publishedFile('resnet1000')).toThrow(/no published ImageNet weights known for 'resnet1000'/);
  });

  it('a missing file names the file and says how to get it', () => {
    const dir = tempDir('w');
    expect(() => findImagenetWeights('resnet18', dir)).toThrow(/resnet18-f37072fd\.pth does not exist.*download https:\/\/download\.pytorch\.org\/models\/resnet18-f37072fd\.pth by hand/);
    writeFileSync(join(dir, 'resnet18-f37072fd.pth'), 'x');
    expect(findImagenetWeights('resnet18', dir)).toBe(join(dir, 'resnet18-f37072fd.pth'));
  });

  describe('fetch', () => {
    let server: Server;
    let base = '';
    const served = new Map<string, Buffer>();
    beforeAll(async () => {
      server = createServer((req, res) => {
        const body = served.get((req.url ?? '').slice(1));
        if (!body) return void res.writeHead(404).end();
        res.writeHead(200, { 'content-length': body.length }).end(body);
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    it('keeps a download whose SHA-256 matches the name, refuses one that does not', async () => {
      // a body whose hash happens to start with resnet18's prefix is not constructible, so the
      // server serves resnet18's name with a wrong body, and the check must refuse it
      served.set(publishedFile('resnet18'), Buffer.from('not the weights'));
      const dir = tempDir('fetch');
      await expect(fetchWeights('resnet18', { dir, baseUrl: base })).rejects.toThrow(/does not start with f37072fd; the file was not kept/);
      expect(readdirSync(dir)).toEqual([]);
      // a file already present is verified, not trusted
      writeFileSync(join(dir, publishedFile('resnet18')), 'junk');
      await expect(fetchWeights('resnet18', { dir, baseUrl: base })).rejects.toThrow(/exists but its SHA-256 does not start with f37072fd/);
    });

    it('downloads and verifies when the hash matches; a 404 keeps nothing', async () => {
      const body = Buffer.from('weights-bytes '.repeat(1000));
      const file = `test-${createHash('sha256').update(body).digest('hex').slice(0, 8)}.pth`;
      served.set(file, body);
      const dir = tempDir('fetch-ok');
      const seen: number[] = [];
      const r = await fetchPublished(file, { dir, baseUrl: base, onProgress: (b) => seen.push(b) });
      expect(r).toEqual({ path: join(dir, file), downloaded: true });
      expect(readFileSync(r.path).equals(body)).toBe(true);
      expect(seen.at(-1)).toBe(body.length);
      expect(await fetchPublished(file, { dir, baseUrl: base })).toEqual({ path: join(dir, file), downloaded: false });
      await expect(fetchWeights('vgg19', { dir, baseUrl: base })).rejects.toThrow(/HTTP 404.*download https:\/\/download\.pytorch\.org\/models\/vgg19-dcbb9e9d\.pth by hand/);
      expect(existsSync(join(dir, 'vgg19-dcbb9e9d.pth'))).toBe(false);
      expect(readdirSync(dir)).toEqual([file]);
    });

    it('offline: says plainly what to download by hand', async () => {
      await expect(fetchWeights('resnet50', { dir: tempDir('off'), baseUrl: 'http://127.0.0.1:1/' })).rejects.toThrow(
        /cannot reach .*looks offline: download https:\/\/download\.pytorch\.org\/models\/resnet50-0676ba61\.pth by hand/,
      );
    });
  });
});
