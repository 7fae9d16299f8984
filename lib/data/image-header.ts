// Image size from the file header alone (JPEG SOF segment, PNG IHDR chunk),
// so inspecting 35,000 large photos reads a few bytes each instead of
// decoding them. The format is taken from the signature, not the extension.
import { closeSync, openSync, readSync } from 'node:fs';

export interface ImageHeader {
  format: 'jpeg' | 'png';
  width: number;
  height: number;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function readAt(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  const n = readSync(fd, buf, 0, length, position);
  return buf.subarray(0, n);
}

function pngHeader(fd: number): ImageHeader {
  const b = readAt(fd, 0, 24);
  if (b.length < 24 || b.toString('latin1', 12, 16) !== 'IHDR') throw new Error('truncated or corrupt PNG (no IHDR chunk)');
  return { format: 'png', width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

// SOF0..SOF15 carry the frame size, except DHT (C4), JPG (C8) and DAC (CC).
const isSof = (m: number): boolean => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
// Markers without a length field: TEM and RST0..7.
const standalone = (m: number): boolean => m === 0x01 || (m >= 0xd0 && m <= 0xd7);

function jpegHeader(fd: number): ImageHeader {
  let pos = 2;
  for (let guard = 0; guard < 10_000; guard++) {
    const b = readAt(fd, pos, 2);
    if (b.length < 2) break;
    if (b[0] !== 0xff) throw new Error(`corrupt JPEG (no marker at byte ${pos})`);
    const marker = b[1] as number;
    if (marker === 0xff) { pos += 1; continue; } // fill byte
    if (standalone(marker)) { pos += 2; continue; }
    if (marker === 0xd9 || marker === 0xda) throw new Error('corrupt JPEG (image data before any frame header)');
    const seg = readAt(fd, pos + 2, 7);
    if (seg.length < 2) break;
    if (isSof(marker)) {
      if (seg.length < 7) break;
      return { format: 'jpeg', height: seg.readUInt16BE(3), width: seg.readUInt16BE(5) };
    }
    const length = seg.readUInt16BE(0);
    if (length < 2) throw new Error(`corrupt JPEG (segment length ${length} at byte ${pos})`);
    pos += 2 + length;
  }
  throw new Error('truncated JPEG (no frame header)');
}

/** Width, height and format of a JPEG or PNG; throws with the reason when unreadable. */
export function readImageHeader(file: string): ImageHeader {
  const fd = openSync(file, 'r');
  try {
    const sig = readAt(fd, 0, 8);
    let header: ImageHeader;
    if (sig.length >= 8 && PNG_SIGNATURE.every((v, i) => sig[i] === v)) header = pngHeader(fd);
    else if (sig.length >= 3 && sig[0] === 0xff && sig[1] === 0xd8 && sig[2] === 0xff) header = jpegHeader(fd);
    else throw new Error(sig.length === 0 ? 'empty file' : 'not a JPEG or PNG file');
    if (header.width === 0 || header.height === 0) throw new Error(`${header.format} header gives size ${header.width}x${header.height}`);
    return header;
  } finally {
    closeSync(fd);
  }
}
