import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeNpy, writeNpy } from '../../lib/report/npy.js';
import { runProcess } from '../helpers/process.js';
import { PYTHON, oracleSkip, pythonOracleMissing } from '../helpers/python.js';

const numpySkip = oracleSkip('numpy.load of the .npy files', pythonOracleMissing(['numpy']));

function parseHeader(buf: Buffer): { version: [number, number]; headerLen: number; dict: string } {
  const headerLen = buf.readUInt16LE(8);
  return { version: [buf[6]!, buf[7]!], headerLen, dict: buf.subarray(10, 10 + headerLen).toString('latin1') };
}

describe('npy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'thtl-npy-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const data = Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => i / 7 - 1);

  it('header: magic, version 1.0, dict, 64-byte alignment, data length', () => {
    const buf = encodeNpy(data, [2, 3, 4]);
    expect(buf.subarray(0, 6)).toEqual(Buffer.from('\x93NUMPY', 'latin1'));
    const h = parseHeader(buf);
    expect(h.version).toEqual([1, 0]);
    expect((10 + h.headerLen) % 64).toBe(0);
    expect(h.dict.endsWith('\n')).toBe(true);
    expect(h.dict.trimEnd()).toBe("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }");
    expect(buf.length).toBe(10 + h.headerLen + 4 * data.length);
    expect(buf.readFloatLE(10 + h.headerLen + 4 * 5)).toBe(data[5]);
    expect(parseHeader(encodeNpy(new Float32Array(3), [3])).dict).toContain("'shape': (3,)");
    expect(parseHeader(encodeNpy(new Float32Array(1), [])).dict).toContain("'shape': ()");
  });

  it('rejects a shape that does not match the data', () => {
    expect(() => encodeNpy(data, [5, 5])).toThrow(/holds 25 values but data has 24/);
    expect(() => encodeNpy(data, [-1, -24])).toThrow(/not a non-negative integer/);
  });

  it.skipIf(numpySkip)('numpy.load reads it back', async () => {
    const path = join(dir, 'cam.npy');
    writeNpy(path, data, [2, 3, 4]);
    expect(readFileSync(path).subarray(1, 6).toString()).toBe('NUMPY');
    const code = 'import json,sys,numpy as np; a=np.load(sys.argv[1]); print(json.dumps({"shape":list(a.shape),"dtype":str(a.dtype),"c":bool(a.flags.c_contiguous),"v":a.ravel().tolist()}))';
    const r = await runProcess(PYTHON, ['-c', code, path]);
    expect(r.code, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout);
    expect(got.shape).toEqual([2, 3, 4]);
    expect(got.dtype).toBe('float32');
    expect(got.c).toBe(true);
    expect(got.v).toEqual([...data]);
  });
});
