// NumPy .npy files (format version 1.0) of float32 arrays, so CAM maps can be loaded with
// numpy.load. Layout: magic "\x93NUMPY", version 1.0, little-endian uint16 header length,
// an ASCII Python dict literal padded with spaces and ending in "\n" so the data starts at
// a multiple of 64 bytes, then the values as little-endian float32 in C order.
import { writeFileAtomic } from '../util/runfolder.js';

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY
const ALIGN = 64;

function shapeLiteral(shape: readonly number[]): string {
  if (shape.length === 0) return '()';
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(', ')})`;
}

/** The bytes of a .npy v1.0 file holding `data` (float32, C order) with `shape`. */
export function encodeNpy(data: Float32Array, shape: readonly number[]): Buffer {
  shape.forEach((d, i) => {
    if (!Number.isInteger(d) || d < 0) throw new Error(`encodeNpy: shape[${i}] = ${d} is not a non-negative integer`);
  });
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`encodeNpy: shape (${shape.join(', ')}) holds ${count} values but data has ${data.length}`);
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeLiteral(shape)}, }`;
  const unpadded = MAGIC.length + 2 + 2 + dict.length + 1; // + "\n"
  const total = Math.ceil(unpadded / ALIGN) * ALIGN;
  const header = `${dict}${' '.repeat(total - unpadded)}\n`;
  if (header.length > 0xffff) throw new Error('encodeNpy: header too long for format version 1.0');
  const out = Buffer.alloc(total + data.length * 4);
  MAGIC.copy(out, 0);
  out[6] = 1; // major version
  out[7] = 0; // minor version
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, 'latin1');
  for (let i = 0; i < data.length; i++) out.writeFloatLE(data[i] as number, total + 4 * i);
  return out;
}

/** Writes `data` with `shape` as a .npy file (atomically: temp file + rename). */
export function writeNpy(path: string, data: Float32Array, shape: readonly number[]): void {
  writeFileAtomic(path, encodeNpy(data, shape));
}
