// TensorBoard event files, written here without TensorFlow: the TFRecord framing (with a
// table-driven CRC32C), the few protobuf messages a scalar or a text summary needs, and a
// run's events folder (`<run>/tb/`), which TensorBoard reads as one run (it merges the
// files of a folder by step).
//
// TFRecord: each record is
//   uint64 length (LE) | uint32 masked CRC32C of those 8 bytes | data | uint32 masked CRC32C of data
// with mask(crc) = ((crc >>> 15) | (crc << 17)) + 0xa282ead8 (mod 2^32).
//
// The messages, by field number (tensorboard/compat/proto/*.proto):
//   Event           { double wall_time = 1; int64 step = 2; oneof { string file_version = 3; Summary summary = 5 } }
//   Summary         { repeated Value value = 1 }
//   Summary.Value   { string tag = 1; SummaryMetadata metadata = 9; oneof { float simple_value = 2; TensorProto tensor = 8 } }
//   SummaryMetadata { PluginData plugin_data = 1 }   PluginData { string plugin_name = 1 }
//   TensorProto     { DataType dtype = 1 (DT_STRING = 7); TensorShapeProto tensor_shape = 2 (empty: a scalar); repeated bytes string_val = 8 }
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

import { fileError, writeFileAtomic } from './runfolder.js';

// ---- CRC32C (Castagnoli, reflected polynomial 0x82f63b78) ----

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC32C of `data` (crc32c("123456789") = 0xe3069283). */
export function crc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = CRC32C_TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** The masked CRC32C TFRecord stores (a CRC of data that holds CRCs is weak). */
export function maskedCrc32c(data: Uint8Array): number {
  const crc = crc32c(data);
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

// ---- TFRecord framing ----

/** One TFRecord: length, its masked CRC, the data, the data's masked CRC. */
export function tfRecord(data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length + 4);
  out.writeBigUInt64LE(BigInt(data.length), 0);
  out.writeUInt32LE(maskedCrc32c(out.subarray(0, 8)), 8);
  out.set(data, 12);
  out.writeUInt32LE(maskedCrc32c(data), 12 + data.length);
  return out;
}

/**
 * The whole records of a TFRecord file's bytes, up to the first that is cut short or
 * whose checksums do not match (a write cut short by a kill); `end` is where they end.
 */
export function readTfRecords(bytes: Uint8Array): { records: Buffer[]; end: number } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: Buffer[] = [];
  let at = 0;
  while (at + 12 <= buf.length) {
    if (buf.readUInt32LE(at + 8) !== maskedCrc32c(buf.subarray(at, at + 8))) break;
    const length = buf.readBigUInt64LE(at);
    if (length > BigInt(buf.length - at - 16)) break;
    const n = Number(length);
    const data = buf.subarray(at + 12, at + 12 + n);
    if (buf.readUInt32LE(at + 12 + n) !== maskedCrc32c(data)) break;
    records.push(Buffer.from(data));
    at += 16 + n;
  }
  return { records, end: at };
}

// ---- protobuf (the wire format: varint, 64-bit, length-delimited, 32-bit) ----

const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;

/** A protobuf message being written: fields in the order they are added. */
export class ProtoWriter {
  private readonly parts: Buffer[] = [];

  private key(field: number, wire: number): void {
    this.raw(varintBytes(BigInt(field) * 8n + BigInt(wire)));
  }

  private raw(b: Buffer): void {
    this.parts.push(b);
  }

  /** int32, int64, uint64, enum, bool: a varint (negative numbers as 64-bit two's complement). */
  varint(field: number, value: number | bigint): this {
    this.key(field, VARINT);
    this.raw(varintBytes(BigInt.asUintN(64, BigInt(value))));
    return this;
  }

  double(field: number, value: number): this {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(value);
    this.key(field, I64);
    this.raw(b);
    return this;
  }

  float(field: number, value: number): this {
    const b = Buffer.alloc(4);
    b.writeFloatLE(value);
    this.key(field, I32);
    this.raw(b);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.key(field, LEN);
    this.raw(varintBytes(BigInt(value.length)));
    this.raw(Buffer.from(value));
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, Buffer.from(value, 'utf8'));
  }

  message(field: number, value: ProtoWriter): this {
    return this.bytes(field, value.finish());
  }

  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function varintBytes(v: bigint): Buffer {
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return Buffer.from(out);
}

/** One field of a message as read: its number, wire type, and value (a varint, or the raw bytes). */
type ProtoField = { field: number; wire: number; varint: bigint; bytes: Buffer };

/** The fields of a protobuf message, in order; throws on a malformed one. */
function protoFields(buf: Buffer): ProtoField[] {
  const fields: ProtoField[] = [];
  let at = 0;
  const readVarint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (at >= buf.length || shift > 63n) throw new Error('malformed protobuf varint');
      const b = buf[at++]!;
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
  };
  const take = (n: number): Buffer => {
    if (at + n > buf.length) throw new Error('protobuf field runs past the message');
    const b = buf.subarray(at, at + n);
    at += n;
    return b;
  };
  while (at < buf.length) {
    const key = readVarint();
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (wire === VARINT) fields.push({ field, wire, varint: readVarint(), bytes: Buffer.alloc(0) });
    else if (wire === I64) fields.push({ field, wire, varint: 0n, bytes: take(8) });
    else if (wire === LEN) fields.push({ field, wire, varint: 0n, bytes: take(Number(readVarint())) });
    else if (wire === I32) fields.push({ field, wire, varint: 0n, bytes: take(4) });
    else throw new Error(`protobuf wire type ${wire} is not supported`);
  }
  return fields;
}

// ---- Event ----

export const FILE_VERSION = 'brain.Event:2';
const DT_STRING = 7;

/** A summary value: a scalar (stored as float32) or a text (the text plugin's string tensor). */
export type SummaryValue = { tag: string; value: number } | { tag: string; text: string };

export interface TbEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  values?: SummaryValue[];
}

function encodeValue(v: SummaryValue): ProtoWriter {
  const w = new ProtoWriter().string(1, v.tag);
  if ('value' in v) return w.float(2, v.value);
  const metadata = new ProtoWriter().message(1, new ProtoWriter().string(1, 'text'));
  const tensor = new ProtoWriter().varint(1, DT_STRING).message(2, new ProtoWriter()).string(8, v.text);
  return w.message(9, metadata).message(8, tensor);
}

/** The serialized Event (wall_time, step, then file_version or summary). */
export function encodeEvent(e: TbEvent): Buffer {
  const w = new ProtoWriter().double(1, e.wallTime).varint(2, e.step);
  if (e.fileVersion !== undefined) w.string(3, e.fileVersion);
  if (e.values) {
    const summary = new ProtoWriter();
    for (const v of e.values) summary.message(1, encodeValue(v));
    w.message(5, summary);
  }
  return w.finish();
}

/** The inverse of encodeEvent, for the fields it writes (others are passed over). */
export function decodeEvent(buf: Buffer): TbEvent {
  const e: TbEvent = { wallTime: 0, step: 0 };
  for (const f of protoFields(buf)) {
    if (f.field === 1 && f.wire === I64) e.wallTime = f.bytes.readDoubleLE(0);
    else if (f.field === 2 && f.wire === VARINT) e.step = Number(BigInt.asIntN(64, f.varint));
    else if (f.field === 3 && f.wire === LEN) e.fileVersion = f.bytes.toString('utf8');
    else if (f.field === 5 && f.wire === LEN) {
      e.values ??= [];
      for (const v of protoFields(f.bytes)) if (v.field === 1 && v.wire === LEN) e.values.push(decodeValue(v.bytes));
    }
  }
  return e;
}

function decodeValue(buf: Buffer): SummaryValue {
  let tag = '';
  let value: number | undefined;
  let text: string | undefined;
  for (const f of protoFields(buf)) {
    if (f.field === 1 && f.wire === LEN) tag = f.bytes.toString('utf8');
    else if (f.field === 2 && f.wire === I32) value = f.bytes.readFloatLE(0);
    else if (f.field === 8 && f.wire === LEN)
      for (const t of protoFields(f.bytes)) if (t.field === 8 && t.wire === LEN) text = (text ?? '') + t.bytes.toString('utf8');
  }
  return text !== undefined ? { tag, text } : { tag, value: value ?? NaN };
}

// ---- events files ----

/** `events.out.tfevents.<unix seconds>.<host>.<pid>.thtl`: TensorBoard reads a folder's files in name order. */
export function eventsFileName(seconds: number, host = hostname(), pid = process.pid): string {
  return `events.out.tfevents.${seconds}.${host}.${pid}.thtl`;
}

const isEventsFile = (name: string) => name.startsWith('events.out.tfevents.') && !name.includes('.tmp-');

/** The events of every events file in `dir`, in name order (whole records only). */
export function readEventsFolder(dir: string): { file: string; events: TbEvent[] }[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter(isEventsFile)
    .sort()
    .map((file) => ({ file, events: readTfRecords(readFileSync(join(dir, file))).records.map(decodeEvent) }));
}

/**
 * A new events file in `dir` (made if needed), its first record (file_version) written.
 * Records are kept in memory until flush(), which appends them in one write: a process
 * killed in between leaves whole records, or a torn last one that readers pass over.
 */
export class EventsFileWriter {
  readonly path: string;
  private pending: Buffer[] = [];

  constructor(dir: string, now: Date = new Date()) {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw fileError('create', dir, err);
    }
    // a second file from this process in the same second (a resume in-process) takes the next second's name
    let seconds = Math.floor(now.getTime() / 1000);
    while (existsSync(join(dir, eventsFileName(seconds)))) seconds++;
    this.path = join(dir, eventsFileName(seconds));
    this.add({ wallTime: now.getTime() / 1000, step: 0, fileVersion: FILE_VERSION });
    this.flush();
  }

  add(event: TbEvent): void {
    this.pending.push(tfRecord(encodeEvent(event)));
  }

  /** Scalars at `step`, one event. */
  scalars(step: number, values: Record<string, number>, wallTime = Date.now() / 1000): void {
    this.add({ wallTime, step, values: Object.entries(values).map(([tag, value]) => ({ tag, value })) });
  }

  text(tag: string, step: number, text: string, wallTime = Date.now() / 1000): void {
    this.add({ wallTime, step, values: [{ tag, text }] });
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const data = Buffer.concat(this.pending);
    try {
      appendFileSync(this.path, data);
    } catch (err) {
      throw fileError('write', this.path, err);
    }
    this.pending = [];
  }
}

/**
 * Cuts the events files of `dir` back to `lastStep`: summaries of later steps (an epoch
 * redone after a resume) and a torn last record are removed, each file rewritten
 * atomically; temp files of an interrupted rewrite are removed. Returns the tags written
 * per step that remain (`tag@step`).
 */
export function cutBackEvents(dir: string, lastStep: number): Set<string> {
  const kept = new Set<string>();
  if (!existsSync(dir)) return kept;
  for (const f of readdirSync(dir)) if (/\.tmp-\d+$/.test(f)) rmSync(join(dir, f), { force: true });
  for (const file of readdirSync(dir).filter(isEventsFile).sort()) {
    const path = join(dir, file);
    const bytes = readFileSync(path);
    const { records, end } = readTfRecords(bytes);
    const keep: Buffer[] = [];
    for (const r of records) {
      let e: TbEvent;
      try {
        e = decodeEvent(r);
      } catch {
        continue; // not one of ours: left out
      }
      if (e.values && e.step > lastStep) continue;
      keep.push(r);
      for (const v of e.values ?? []) kept.add(`${v.tag}@${e.step}`);
    }
    if (keep.length !== records.length || end !== bytes.length) writeFileAtomic(path, Buffer.concat(keep.map(tfRecord)));
  }
  return kept;
}

/**
 * A training run's events (`<run>/tb/`): a new file per process. Steps already in the
 * folder's files are not written again: on a resume the files are cut back to the last
 * epoch kept, and only what is missing of the config text (step 0) and of the earlier
 * epochs (`done`) is written, before the epochs to come.
 */
export class RunEvents {
  private readonly writer: EventsFileWriter;

  constructor(dir: string, configText: string, done: { step: number; scalars: Record<string, number> }[]) {
    const lastStep = done.reduce((m, d) => Math.max(m, d.step), 0);
    const there = cutBackEvents(dir, lastStep);
    this.writer = new EventsFileWriter(dir);
    if (!there.has('config@0')) this.writer.text('config', 0, `\`\`\`json\n${configText.trimEnd()}\n\`\`\``);
    for (const d of done) {
      const missing = Object.fromEntries(Object.entries(d.scalars).filter(([tag]) => !there.has(`${tag}@${d.step}`)));
      if (Object.keys(missing).length > 0) this.writer.scalars(d.step, missing);
    }
    this.writer.flush();
  }

  get path(): string {
    return this.writer.path;
  }

  /** One epoch's scalars, flushed. */
  epoch(step: number, scalars: Record<string, number>): void {
    this.writer.scalars(step, scalars);
    this.writer.flush();
  }
}
