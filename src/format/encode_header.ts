/**
 * Encodes a GGUF v3 header (metadata and tensor index, little-endian) and lays out the
 * tensors' data offsets, each padded to the alignment as ggml's writer does.
 *
 * @module
 */
import { alignOffset } from "./parse_header.ts";
import { encodeUtf8Into } from "./utf8.ts";
import {
  type GgufArray,
  type GgufMetadataEntry,
  type GgufValue,
  GgufValueType,
} from "../model/gguf_file.ts";

/** One tensor to lay out: its index entry without the offset. */
export interface TensorLayoutInput {
  /** The tensor's name. */
  name: string;
  /** Dimensions in ggml order. */
  shape: number[];
  /** ggml type id. */
  type: number;
  /** Data size in bytes. */
  nbytes: number;
}

/** What to encode. */
export interface GgufHeaderSpec {
  /** Data alignment in bytes (a power of two); write `general.alignment` if not 32. */
  alignment: number;
  /**
   * Metadata in the order to write. An entry read from a file may carry `raw` (the bytes
   * its value cannot say: a BOOL other than 0 or 1, a NaN's payload), written in place of
   * the value while the value still reads the same.
   */
  metadata: Iterable<Pick<GgufMetadataEntry, "key" | "type" | "value" | "raw">>;
  /** Tensors in the order to write; their data follows in this order. */
  tensors: TensorLayoutInput[];
}

/** The encoded header and where each tensor's data goes. */
export interface EncodedGgufHeader {
  /** Header, metadata, tensor index and padding up to the data section. */
  bytes: Uint8Array;
  /** Each tensor's data offset relative to the data section. */
  offsets: number[];
  /** Absolute offset of the data section (= `bytes.length`). */
  dataOffset: number;
  /** The whole file's size: data section plus every tensor padded to the alignment. */
  fileSize: number;
}

/** A growable little-endian byte buffer. */
class ByteWriter {
  bytes = new Uint8Array(4096);
  view = new DataView(this.bytes.buffer);
  length = 0;

  reserve(count: number): number {
    const at = this.length;
    if (at + count > this.bytes.length) {
      let size = this.bytes.length * 2;
      while (size < at + count) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.bytes.subarray(0, at));
      this.bytes = grown;
      this.view = new DataView(grown.buffer);
    }
    this.length += count;
    return at;
  }
  u8(v: number) {
    const at = this.reserve(1);
    this.bytes[at] = v;
  }
  /** Reserves `count` bytes and returns a view positioned over the current buffer. */
  at(count: number): [DataView, number] {
    const offset = this.reserve(count);
    return [this.view, offset];
  }
  u32(v: number) {
    const [view, at] = this.at(4);
    view.setUint32(at, v, true);
  }
  u64(v: number | bigint) {
    const [view, at] = this.at(8);
    view.setBigUint64(at, BigInt(v), true);
  }
  /** A length-prefixed UTF-8 string, encoded in place (no allocation per string). */
  string(text: string) {
    const at = this.reserve(8 + 3 * text.length);
    const written = encodeUtf8Into(text, this.bytes, at + 8);
    this.view.setUint32(at, written, true);
    this.view.setUint32(at + 4, 0, true);
    this.length = at + 8 + written;
  }
  raw(bytes: Uint8Array) {
    const at = this.reserve(bytes.length);
    this.bytes.set(bytes, at);
  }
}

/** A fresh view over `count` reserved bytes. */
function at(out: ByteWriter, count: number): DataView {
  const offset = out.reserve(count);
  return new DataView(out.bytes.buffer, offset, count);
}

function writeScalar(out: ByteWriter, type: number, value: unknown): void {
  switch (type) {
    case GgufValueType.UINT8:
      return void at(out, 1).setUint8(0, value as number);
    case GgufValueType.INT8:
      return void at(out, 1).setInt8(0, value as number);
    case GgufValueType.UINT16:
      return void at(out, 2).setUint16(0, value as number, true);
    case GgufValueType.INT16:
      return void at(out, 2).setInt16(0, value as number, true);
    case GgufValueType.UINT32:
      return void at(out, 4).setUint32(0, value as number, true);
    case GgufValueType.INT32:
      return void at(out, 4).setInt32(0, value as number, true);
    case GgufValueType.FLOAT32:
      return void at(out, 4).setFloat32(0, value as number, true);
    case GgufValueType.BOOL:
      return out.u8(value ? 1 : 0);
    case GgufValueType.STRING:
      return out.string(value as string);
    case GgufValueType.UINT64:
      return void at(out, 8).setBigUint64(0, BigInt(value as bigint), true);
    case GgufValueType.INT64:
      return void at(out, 8).setBigInt64(0, BigInt(value as bigint), true);
    case GgufValueType.FLOAT64:
      return void at(out, 8).setFloat64(0, value as number, true);
    case GgufValueType.ARRAY:
      return writeArray(out, value as GgufArray);
    default:
      throw new TypeError(`Cannot encode metadata value type ${type}`);
  }
}

/**
 * The bytes read for a scalar (`raw`), if the value is still the one they decode to: a
 * BOOL byte other than 0 or 1 while the value is `true`, a NaN's bytes while it is NaN.
 */
function rawScalar(
  type: number,
  value: unknown,
  raw: Uint8Array | undefined,
): Uint8Array | undefined {
  if (raw === undefined) return undefined;
  switch (type) {
    case GgufValueType.BOOL:
      return raw.length === 1 && value === (raw[0] !== 0) ? raw : undefined;
    case GgufValueType.FLOAT32:
      return raw.length === 4 && Number.isNaN(value) ? raw : undefined;
    case GgufValueType.FLOAT64:
      return raw.length === 8 && Number.isNaN(value) ? raw : undefined;
    default:
      return undefined;
  }
}

/** A BOOL array's bytes as read (`raw`), if its values are still the ones they decode to. */
function rawBooleans(array: GgufArray): Uint8Array | undefined {
  const { raw, values } = array;
  if (raw === undefined || array.elementType !== GgufValueType.BOOL) return undefined;
  if (raw.length !== values.length) return undefined;
  for (let i = 0; i < raw.length; i++) if (values[i] !== (raw[i] !== 0)) return undefined;
  return raw;
}

function writeArray(out: ByteWriter, array: GgufArray): void {
  const values = array.values as ArrayLike<unknown>;
  out.u32(array.elementType);
  out.u64(values.length);
  const type = array.elementType;
  const booleans = rawBooleans(array);
  if (booleans !== undefined) return out.raw(booleans);
  const numeric = ArrayBuffer.isView(values) && type !== GgufValueType.BOOL;
  if (numeric) {
    // Typed arrays hold platform-order (little-endian) values: copy their bytes in one go.
    const view = values as unknown as ArrayBufferView;
    out.raw(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
    return;
  }
  for (let i = 0; i < values.length; i++) writeScalar(out, type, values[i]);
}

/**
 * Encodes a GGUF v3 header and lays out tensor data offsets.
 *
 * @param spec Alignment, metadata and tensors, in the order to write.
 * @returns The header bytes, each tensor's data offset and the file's total size.
 * @throws {TypeError} For an alignment that is not a power of two, a `general.alignment`
 *   entry that disagrees with it, or an unknown value type. Without the entry, an
 *   alignment other than 32 is written as `general.alignment` (UINT32) after the metadata.
 *
 * @example
 * ```ts
 * import { encodeGgufHeader } from "gguf-stream/pipeline";
 * import { readGguf } from "gguf-stream";
 * import assert from "node:assert/strict";
 * const header = encodeGgufHeader({
 *   alignment: 32,
 *   metadata: [{ key: "general.name", type: 8, value: "tiny" }],
 *   tensors: [{ name: "w", shape: [4], type: 0, nbytes: 16 }],
 * });
 * const file = new Uint8Array(header.fileSize);
 * file.set(header.bytes);
 * const parsed = await readGguf(file);
 * assert.equal(parsed.metadata.get("general.name")?.value, "tiny");
 * assert.equal(parsed.tensors[0].fileOffset, header.dataOffset + header.offsets[0]);
 * ```
 */
export function encodeGgufHeader(spec: GgufHeaderSpec): EncodedGgufHeader {
  let p = 1;
  while (p < spec.alignment) p *= 2;
  if (p !== spec.alignment) {
    throw new TypeError(`Alignment ${spec.alignment} is not a power of two`);
  }
  const out = new ByteWriter();
  const metadata = [...spec.metadata];
  const declared = metadata.find((entry) => entry.key === "general.alignment");
  if (declared === undefined && spec.alignment !== 32) {
    // Readers take the alignment from this key alone: without it they would use 32.
    metadata.push({ key: "general.alignment", type: GgufValueType.UINT32, value: spec.alignment });
  } else if (
    declared !== undefined &&
    (declared.type !== GgufValueType.UINT32 || declared.value !== spec.alignment)
  ) {
    throw new TypeError(
      `general.alignment in the metadata (${
        String(declared.value)
      }) disagrees with the alignment ${spec.alignment}; it must be that value as UINT32`,
    );
  }
  out.u32(0x46554747);
  out.u32(3);
  out.u64(spec.tensors.length);
  out.u64(metadata.length);
  for (const entry of metadata) {
    out.string(entry.key);
    out.u32(entry.type);
    const raw = rawScalar(entry.type, entry.value, entry.raw);
    if (raw !== undefined) out.raw(raw);
    else writeScalar(out, entry.type, entry.value as GgufValue);
  }
  const offsets: number[] = [];
  let next = 0;
  for (const tensor of spec.tensors) {
    out.string(tensor.name);
    out.u32(tensor.shape.length);
    for (const size of tensor.shape) out.u64(size);
    out.u32(tensor.type);
    out.u64(next);
    offsets.push(next);
    next = alignOffset(next + tensor.nbytes, spec.alignment);
  }
  const dataOffset = alignOffset(out.length, spec.alignment);
  out.reserve(dataOffset - out.length);
  return {
    bytes: out.bytes.slice(0, out.length),
    offsets,
    dataOffset,
    fileSize: dataOffset + next,
  };
}
