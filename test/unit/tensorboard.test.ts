// lib/util/tensorboard.ts without TensorBoard: CRC32C against published vectors, the
// protobuf bytes of Events worked out by hand from the .proto field numbers, the TFRecord
// framing, torn files, and a run's events folder across a resume. The same files read by
// TensorBoard itself: test/e2e/tensorboard.test.ts.
import { existsSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import {
  crc32c,
  cutBackEvents,
  decodeEvent,
  encodeEvent,
  EventsFileWriter,
  FILE_VERSION,
  maskedCrc32c,
  readEventsFolder,
  readTfRecords,
  RunEvents,
  tfRecord,
} from '../../lib/util/tensorboard.js';
import { tempDir } from '../helpers/images.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('CRC32C', () => {
  it('matches the published check value and the iSCSI vectors (RFC 3720 B.4)', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
    expect(crc32c(Buffer.alloc(32, 0x00))).toBe(0x8a9136aa);
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    expect(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i)))).toBe(0x46dd794e);
    expect(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i)))).toBe(0x113fdb5c);
  });

  it('masks as TFRecord does: rotate right by 15, add 0xa282ead8', () => {
    const crc = 0xe3069283;
    const rotated = ((crc >>> 15) | (crc << 17)) >>> 0;
    expect(maskedCrc32c(Buffer.from('123456789'))).toBe((rotated + 0xa282ead8) % 2 ** 32);
  });
});

describe('Event protobuf', () => {
  it('a scalar summary, byte for byte', () => {
    const bytes = encodeEvent({ wallTime: 1.5, step: 3, values: [{ tag: 'lr', value: 0.5 }] });
    expect(hex(bytes)).toBe(
      [
        '09', '000000000000f83f', // wall_time = 1 (double): 1.5
        '10', '03', // step = 2 (varint): 3
        '2a', '0b', // summary = 5 (length 11)
        '0a', '09', //   value = 1 (length 9)
        '0a', '02', '6c72', //     tag = 1: "lr"
        '15', '0000003f', //     simple_value = 2 (float): 0.5
      ].join(''),
    );
    expect(decodeEvent(bytes)).toEqual({ wallTime: 1.5, step: 3, values: [{ tag: 'lr', value: 0.5 }] });
  });

  it('the file_version event, a multi-byte step, and a text summary', () => {
    expect(hex(encodeEvent({ wallTime: 0, step: 0, fileVersion: FILE_VERSION }))).toBe(
      '09' + '0000000000000000' + '10' + '00' + '1a' + '0d' + Buffer.from('brain.Event:2').toString('hex'),
    );
    expect(hex(encodeEvent({ wallTime: 0, step: 300 })).slice(18)).toBe('10ac02');
    const text = encodeEvent({ wallTime: 0, step: 0, values: [{ tag: 't', text: 'hi' }] });
    const value = [
      '0a', '01', '74', // tag = 1: "t"
      '4a', '08', '0a', '06', '0a', '04', '74657874', // metadata = 9 { plugin_data = 1 { plugin_name = 1: "text" } }
      '42', '08', '08', '07', '12', '00', '42', '02', '6869', // tensor = 8 { dtype = 1: DT_STRING (7), tensor_shape = 2 {}, string_val = 8: "hi" }
    ].join('');
    expect(hex(text).slice(22)).toBe(`2a${(value.length / 2 + 2).toString(16).padStart(2, '0')}0a${(value.length / 2).toString(16).padStart(2, '0')}${value}`);
    expect(decodeEvent(text).values).toEqual([{ tag: 't', text: 'hi' }]);
  });
});

describe('TFRecord framing', () => {
  it('length, its masked CRC, the data, the data\'s masked CRC', () => {
    const data = Buffer.from('123456789');
    const r = tfRecord(data);
    expect(r.length).toBe(8 + 4 + 9 + 4);
    expect(r.readBigUInt64LE(0)).toBe(9n);
    expect(r.readUInt32LE(8)).toBe(maskedCrc32c(r.subarray(0, 8)));
    expect(r.subarray(12, 21).toString()).toBe('123456789');
    expect(r.readUInt32LE(21)).toBe(maskedCrc32c(data));
  });

  it('a file cut anywhere in its last record reads back as the records before it', () => {
    const records = ['first', 'second', 'third'].map((s) => tfRecord(Buffer.from(s)));
    const file = Buffer.concat(records);
    const whole = records[0]!.length + records[1]!.length;
    for (let cut = whole; cut < file.length; cut++) {
      const r = readTfRecords(file.subarray(0, cut));
      expect(r.records.map(String)).toEqual(['first', 'second']);
      expect(r.end).toBe(whole);
    }
    expect(readTfRecords(file).records.map(String)).toEqual(['first', 'second', 'third']);
    // a damaged byte ends the reading there
    const bad = Buffer.from(file);
    bad[whole + 13] ^= 1;
    expect(readTfRecords(bad).records.map(String)).toEqual(['first', 'second']);
  });
});

describe('events files', () => {
  const steps = (dir: string) =>
    readEventsFolder(dir).flatMap((f) => f.events.flatMap((e) => (e.values ?? []).map((v) => `${v.tag}@${e.step}`)));

  it('a new file starts with brain.Event:2; appends are whole records on disk after each flush', () => {
    const dir = join(tempDir('tb-writer'), 'tb');
    const w = new EventsFileWriter(dir, new Date(1_700_000_000_500));
    expect(w.path).toMatch(/\/events\.out\.tfevents\.1700000000\.[^/]+\.\d+\.thtl$/);
    expect(readEventsFolder(dir)[0]!.events).toEqual([{ wallTime: 1_700_000_000.5, step: 0, fileVersion: 'brain.Event:2' }]);
    w.scalars(1, { a: 1 });
    expect(readEventsFolder(dir)[0]!.events).toHaveLength(1); // not flushed yet
    w.flush();
    expect(readEventsFolder(dir)[0]!.events).toHaveLength(2);
    // the same second in the same process: the next free name
    expect(new EventsFileWriter(dir, new Date(1_700_000_000_900)).path).toMatch(/tfevents\.1700000001\./);
  });

  it('a run: config text at step 0, an event per epoch; a resume cuts back, writes each step once', () => {
    const dir = join(tempDir('tb-run'), 'tb');
    const s = (x: number) => ({ 'loss/train': x, lr: 0.01 });
    const first = new RunEvents(dir, '{ "model": "resnet18" }\n', []);
    first.epoch(1, s(0.9));
    first.epoch(2, s(0.8));
    first.epoch(3, s(0.7)); // written, but the run resumes after epoch 2 (its checkpoint of epoch 3 was lost)
    // a kill mid-append: a torn record at the end
    writeFileSync(first.path, Buffer.concat([readFileSync(first.path), tfRecord(encodeEvent({ wallTime: 0, step: 4, values: [{ tag: 'lr', value: 1 }] })).subarray(0, 10)]));
    const config = readEventsFolder(dir)[0]!.events[1]!;
    expect(config).toMatchObject({ step: 0, values: [{ tag: 'config', text: '```json\n{ "model": "resnet18" }\n```' }] });

    const resumed = new RunEvents(dir, 'not written again', [
      { step: 1, scalars: s(0.9) },
      { step: 2, scalars: s(0.8) },
    ]);
    expect(resumed.path).not.toBe(first.path);
    resumed.epoch(3, s(0.65));
    const files = readEventsFolder(dir);
    expect(files).toHaveLength(2);
    expect(files[1]!.events[0]!.fileVersion).toBe('brain.Event:2');
    expect(steps(dir)).toEqual(['config@0', 'loss/train@1', 'lr@1', 'loss/train@2', 'lr@2', 'loss/train@3', 'lr@3']);
    expect(files[1]!.events.at(-1)!.values![0]).toEqual({ tag: 'loss/train', value: Math.fround(0.65) });
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('a resumed run whose tb/ is missing gets the config and its earlier epochs from the record', () => {
    const dir = join(tempDir('tb-backfill'), 'tb');
    expect(existsSync(dir)).toBe(false);
    const ev = new RunEvents(dir, '{}', [{ step: 1, scalars: { lr: 0.1 } }]);
    ev.epoch(2, { lr: 0.1 });
    expect(steps(dir)).toEqual(['config@0', 'lr@1', 'lr@2']);
  });

  it('cutBackEvents leaves a file that needs no cut as it is and removes temp files', () => {
    const dir = join(tempDir('tb-cut'), 'tb');
    const w = new EventsFileWriter(dir);
    w.scalars(1, { a: 1 });
    w.flush();
    const before = readFileSync(w.path);
    writeFileSync(`${w.path}.tmp-123`, 'x');
    expect([...cutBackEvents(dir, 1)]).toEqual(['a@1']);
    expect(readFileSync(w.path)).toEqual(before);
    expect(readdirSync(dir)).toHaveLength(1);
    truncateSync(w.path, before.length - 1);
    expect([...cutBackEvents(dir, 1)]).toEqual([]);
    expect(readEventsFolder(dir)[0]!.events).toHaveLength(1);
  });
});
