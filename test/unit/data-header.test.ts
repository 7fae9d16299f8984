// Image sizes from JPEG SOF / PNG IHDR headers, without decoding.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';

import { readImageHeader } from '../../lib/data/image-header.js';
import { crc32, jpegHeaderBytes, pngBytes } from '../helpers/png.js';

const dir = mkdtempSync(join(tmpdir(), 'thtl-header-'));
const put = (name: string, bytes: Uint8Array): string => {
  writeFileSync(join(dir, name), bytes);
  return join(dir, name);
};

describe('test PNG helper', () => {
  it('writes chunks with correct CRCs and a complete IDAT', () => {
    expect(crc32(Buffer.from('IEND'))).toBe(0xae426082);
    const png = pngBytes(5, 3);
    const idatLength = png.readUInt32BE(33);
    expect(png.toString('latin1', 37, 41)).toBe('IDAT');
    expect(inflateSync(png.subarray(41, 41 + idatLength))).toHaveLength(3 * (1 + 5 * 3));
  });
});

describe('readImageHeader', () => {
  it('reads PNG and JPEG sizes by signature, whatever the extension', () => {
    expect(readImageHeader(put('a.png', pngBytes(31, 17)))).toEqual({ format: 'png', width: 31, height: 17 });
    expect(readImageHeader(put('b.jpeg', jpegHeaderBytes(3888, 2592)))).toEqual({ format: 'jpeg', width: 3888, height: 2592 });
    expect(readImageHeader(put('c.png', jpegHeaderBytes(640, 480)))).toEqual({ format: 'jpeg', width: 640, height: 480 });
  });

  it('skips a large APP1 segment, fill bytes and a DHT before the SOF', () => {
    const base = jpegHeaderBytes(1024, 768);
    const app1 = Buffer.concat([Buffer.from([0xff, 0xe1, 0xfe, 0x00]), Buffer.alloc(0xfe00 - 2, 0x41)]);
    const dht = Buffer.from([0xff, 0xc4, 0x00, 0x04, 0x00, 0x00]);
    const bytes = Buffer.concat([base.subarray(0, 2), app1, Buffer.from([0xff]), dht, base.subarray(2)]);
    expect(readImageHeader(put('exif.jpg', bytes))).toEqual({ format: 'jpeg', width: 1024, height: 768 });
    const progressive = Buffer.from(jpegHeaderBytes(50, 40));
    progressive[2 + 18 + 1] = 0xc2; // SOF2
    expect(readImageHeader(put('prog.jpg', progressive))).toEqual({ format: 'jpeg', width: 50, height: 40 });
  });

  it('says why a file is unreadable', () => {
    expect(() => readImageHeader(put('empty.png', Buffer.alloc(0)))).toThrow(/empty file/);
    expect(() => readImageHeader(put('text.jpg', Buffer.from('hello world')))).toThrow(/not a JPEG or PNG/);
    expect(() => readImageHeader(put('cut.jpg', jpegHeaderBytes(10, 10).subarray(0, 25)))).toThrow(/truncated JPEG/);
    expect(() => readImageHeader(put('cut.png', pngBytes(4, 4).subarray(0, 14)))).toThrow(/truncated or corrupt PNG/);
    expect(() => readImageHeader(put('sos.jpg', Buffer.from([0xff, 0xd8, 0xff, 0xda, 0x00, 0x02])))).toThrow(/image data before any frame header/);
    expect(() => readImageHeader(put('zero.jpg', jpegHeaderBytes(0, 10)))).toThrow(/size 0x10/);
    expect(() => readImageHeader(join(dir, 'missing.jpg'))).toThrow(/ENOENT/);
  });
});
