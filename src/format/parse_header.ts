/**
 * The only parser of GGUF headers: magic, version, metadata and tensor index, with
 * every count, size and offset validated before it is used.
 *
 * @module
 */
import { Cursor } from "./cursor.ts";
import { decodeUtf8 } from "./utf8.ts";
import { formatInteger, GgufError } from "../model/errors.ts";
import { ggmlType } from "../model/ggml_type.ts";
import {
  GGUF_VALUE_TYPE_NAMES,
  type GgufArray,
  type GgufFile,
  type GgufMetadataEntry,
  type GgufValue,
  GgufValueType,
  type TensorInfo,
} from "../model/gguf_file.ts";

/** Options for parsing a header. */
export interface ParseOptions {
  /**
   * Accept two defects that ggml refuses: a metadata key written twice (the first value
   * wins; the others are listed in `duplicateKeys`) and tensors whose row length is not a
   * multiple of the block size when the element count is (blocks running across rows).
   * Default `false`.
   */
  lenient?: boolean;
}

/** `GGUF` read as a little-endian u32. */
const GGUF_MAGIC = 0x46554747;
/** ggml's default alignment when `general.alignment` is absent. */
export const DEFAULT_ALIGNMENT = 32;
/** The most dimensions a ggml tensor has. */
export const MAX_DIMS = 4;
/** Nesting limit for arrays of arrays. */
const MAX_ARRAY_DEPTH = 8;
/** Hard caps that hold even when the input's size is unknown (a stream). */
const MAX_TENSORS = 1 << 24;
const MAX_KEYS = 1 << 24;

/** The smallest encoding of one metadata entry: key length, value type, a 1-byte value. */
const MIN_KV_BYTES_V1 = 4 + 4 + 1;
const MIN_KV_BYTES = 8 + 4 + 1;
/** The smallest tensor-index entry: name length, n_dims, one dim, type, offset. */
const MIN_TENSOR_BYTES_V1 = 4 + 4 + 4 + 4 + 8;
const MIN_TENSOR_BYTES = 8 + 4 + 8 + 4 + 8;

/** Bytes per element of the fixed-size value types; 0 for STRING and ARRAY. */
const VALUE_SIZES = [1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8];

/**
 * Rounds `offset` up to a multiple of `alignment` with arithmetic only (no 32-bit
 * bitwise operators, so offsets past 4 GiB stay exact).
 *
 * @example
 * ```ts
 * import { alignOffset } from "../../advanced.ts";
 * import assert from "node:assert/strict";
 * assert.equal(alignOffset(5_000_000_001, 32), 5_000_000_032);
 * ```
 */
export function alignOffset(offset: number, alignment: number): number {
  return Math.ceil(offset / alignment) * alignment;
}

function isPowerOfTwo(value: number): boolean {
  if (!Number.isSafeInteger(value) || value < 1) return false;
  let p = 1;
  while (p < value) p *= 2;
  return p === value;
}

function limitError(what: string, count: number, at: number, remaining: number, min: number) {
  return new GgufError(
    "LIMIT_EXCEEDED",
    `Cannot read ${what} at byte ${formatInteger(at)}: the header declares ${
      formatInteger(count)
    }, but only ${formatInteger(remaining)} bytes remain and each needs at least ${min}`,
    at,
  );
}

/** Parses one value of type `type` at the cursor. */
function readValue(
  cursor: Cursor,
  type: number,
  wide: boolean,
  what: string,
  depth: number,
): GgufValue {
  switch (type) {
    case GgufValueType.UINT8:
      return cursor.u8(what);
    case GgufValueType.INT8:
      return cursor.i8(what);
    case GgufValueType.UINT16:
      return cursor.u16(what);
    case GgufValueType.INT16:
      return cursor.i16(what);
    case GgufValueType.UINT32:
      return cursor.u32(what);
    case GgufValueType.INT32:
      return cursor.i32(what);
    case GgufValueType.FLOAT32:
      return cursor.f32(what);
    case GgufValueType.BOOL:
      return cursor.u8(what) !== 0;
    case GgufValueType.STRING:
      return cursor.string(wide, what);
    case GgufValueType.UINT64:
      return cursor.u64Big(what);
    case GgufValueType.INT64:
      return cursor.i64Big(what);
    case GgufValueType.FLOAT64:
      return cursor.f64(what);
    case GgufValueType.ARRAY:
      return readArray(cursor, wide, what, depth + 1);
    default:
      throw badValueType(cursor.pos - 4, type, what);
  }
}

function badValueType(at: number, type: number, what: string): GgufError {
  return new GgufError(
    "BAD_VALUE_TYPE",
    `Cannot read ${what}: value type ${type} at byte ${
      formatInteger(at)
    } is not a GGUF type (0-12)`,
    at,
  );
}

function readArray(cursor: Cursor, wide: boolean, what: string, depth: number): GgufArray {
  const typeAt = cursor.pos;
  if (depth > MAX_ARRAY_DEPTH) {
    throw new GgufError(
      "LIMIT_EXCEEDED",
      `Cannot read ${what} at byte ${
        formatInteger(typeAt)
      }: arrays are nested more than ${MAX_ARRAY_DEPTH} deep`,
      typeAt,
    );
  }
  const elementType = cursor.u32(`the element type of ${what}`);
  if (elementType > GgufValueType.FLOAT64) throw badValueType(typeAt, elementType, what);
  const lengthAt = cursor.pos;
  const length = cursor.length(wide, `the length of ${what}`);
  const size = VALUE_SIZES[elementType];
  // Strings need at least their length field, nested arrays a type and a length.
  const minSize = size > 0 ? size : elementType === GgufValueType.STRING ? (wide ? 8 : 4) : 8;
  if (length * minSize > cursor.remaining) {
    throw new GgufError(
      "TRUNCATED",
      `Cannot read ${what} at byte ${formatInteger(lengthAt)}: it declares ${
        formatInteger(length)
      } ${GGUF_VALUE_TYPE_NAMES[elementType]} elements (at least ${
        formatInteger(length * minSize)
      } bytes), but only ${formatInteger(cursor.remaining)} bytes remain in the file`,
      lengthAt,
    );
  }
  const type = elementType as GgufValueType;
  if (size > 0 && type !== GgufValueType.BOOL) {
    return { elementType: type, values: readNumbers(cursor, type, length, what) };
  }
  if (type === GgufValueType.BOOL) {
    cursor.need(length, what);
    const values: boolean[] = [];
    const bytes = cursor.bytes;
    for (let i = 0, at = cursor.pos; i < length; i++) values.push(bytes[at + i] !== 0);
    cursor.pos += length;
    return { elementType: type, values };
  }
  if (type === GgufValueType.STRING) {
    return { elementType: type, values: readStrings(cursor, length, wide, what) };
  }
  const values: GgufArray[] = [];
  for (let i = 0; i < length; i++) values.push(readArray(cursor, wide, what, depth + 1));
  return { elementType: type, values };
}

/**
 * Reads `length` strings. The common case (little-endian, lengths under 4 GiB, all in the
 * buffer) runs in one tight loop; anything else goes through the checked cursor methods,
 * which raise the right error.
 */
function readStrings(cursor: Cursor, length: number, wide: boolean, what: string): string[] {
  const values: string[] = [];
  const bytes = cursor.bytes;
  const end = bytes.length;
  let pos = cursor.pos;
  if (wide && cursor.littleEndian) {
    while (values.length < length && pos + 8 <= end) {
      // The length as arithmetic on bytes; a high word other than 0 takes the checked path.
      const size = bytes[pos] + bytes[pos + 1] * 0x100 + bytes[pos + 2] * 0x10000 +
        bytes[pos + 3] * 0x1000000;
      if (bytes[pos + 4] + bytes[pos + 5] + bytes[pos + 6] + bytes[pos + 7] !== 0) break;
      const start = pos + 8;
      if (start + size > end) break;
      values.push(decodeUtf8(bytes, start, start + size));
      pos = start + size;
    }
  }
  cursor.pos = pos;
  while (values.length < length) values.push(cursor.string(wide, what));
  return values;
}

type NumberArray = Exclude<GgufArray["values"], boolean[] | string[] | GgufArray[]>;

const ARRAY_CONSTRUCTORS: Record<number, new (buffer: ArrayBuffer) => NumberArray> = {
  [GgufValueType.UINT8]: Uint8Array,
  [GgufValueType.INT8]: Int8Array,
  [GgufValueType.UINT16]: Uint16Array,
  [GgufValueType.INT16]: Int16Array,
  [GgufValueType.UINT32]: Uint32Array,
  [GgufValueType.INT32]: Int32Array,
  [GgufValueType.FLOAT32]: Float32Array,
  [GgufValueType.UINT64]: BigUint64Array,
  [GgufValueType.INT64]: BigInt64Array,
  [GgufValueType.FLOAT64]: Float64Array,
};

/** Reads `length` fixed-size numbers in one pass into a typed array of their own. */
function readNumbers(
  cursor: Cursor,
  type: GgufValueType,
  length: number,
  what: string,
): NumberArray {
  const size = VALUE_SIZES[type];
  const buffer = cursor.take(length * size, what);
  if (!cursor.littleEndian && size > 1) swapBytes(new Uint8Array(buffer), size);
  return new ARRAY_CONSTRUCTORS[type](buffer);
}

/** Reverses the byte order of each `size`-byte element in place. */
function swapBytes(bytes: Uint8Array, size: number): void {
  for (let at = 0; at < bytes.length; at += size) {
    for (let i = 0, j = size - 1; i < j; i++, j--) {
      const t = bytes[at + i];
      bytes[at + i] = bytes[at + j];
      bytes[at + j] = t;
    }
  }
}

/** Reads `general.alignment`, checking it is a power of two. */
function alignmentOf(metadata: Map<string, GgufMetadataEntry>): number {
  const entry = metadata.get("general.alignment");
  if (entry === undefined) return DEFAULT_ALIGNMENT;
  const value = typeof entry.value === "bigint" ? Number(entry.value) : entry.value;
  const integer = entry.type <= GgufValueType.INT32 || entry.type === GgufValueType.UINT64 ||
    entry.type === GgufValueType.INT64;
  if (!integer || typeof value !== "number" || !isPowerOfTwo(value)) {
    throw new GgufError(
      "BAD_ALIGNMENT",
      `Cannot use general.alignment at byte ${
        formatInteger(entry.offset)
      }: expected a power of ${""}two as an integer, found ${GGUF_VALUE_TYPE_NAMES[entry.type]} ${
        String(entry.value)
      }`,
      entry.offset,
    );
  }
  return value;
}

/**
 * Parses the header, metadata and tensor index from the start of a GGUF file.
 * `bytes` may be a prefix of the file (`complete: false`), in which case running past
 * its end throws the internal `NeedMoreBytes` signal for the caller to retry.
 */
export function parseGgufHeader(
  bytes: Uint8Array,
  complete: boolean,
  totalSize: number | undefined,
  options: ParseOptions = {},
): GgufFile {
  const lenient = options.lenient === true;
  const cursor = new Cursor(bytes, complete, totalSize);
  const magic = cursor.u32("the magic number");
  if (magic !== GGUF_MAGIC) {
    const found = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0"));
    throw new GgufError(
      "BAD_MAGIC",
      `Cannot read the header: expected the magic bytes "GGUF" (47 47 55 46) at byte 0, found ${
        found.join(" ")
      }; this is not a GGUF file`,
      0,
    );
  }
  let version = cursor.u32("the version");
  if (version > 0xffff && (version >>> 24) !== 0) {
    // A byte-swapped small version means a big-endian file.
    cursor.littleEndian = false;
    cursor.pos = 4;
    version = cursor.u32("the version");
  }
  if (version < 1 || version > 3) {
    throw new GgufError(
      "UNSUPPORTED_VERSION",
      `Cannot read the header: GGUF version ${version} at byte 4 is not supported (expected 1, 2 or 3)`,
      4,
    );
  }
  const wide = version >= 2;
  const countsAt = cursor.pos;
  const tensorCount = cursor.length(wide, "the tensor count");
  const kvCountAt = cursor.pos;
  const kvCount = cursor.length(wide, "the metadata count");
  const minTensor = wide ? MIN_TENSOR_BYTES : MIN_TENSOR_BYTES_V1;
  const minKv = wide ? MIN_KV_BYTES : MIN_KV_BYTES_V1;
  if (kvCount > MAX_KEYS || kvCount * minKv > cursor.remaining) {
    throw limitError("the metadata", kvCount, kvCountAt, cursor.remaining, minKv);
  }
  if (tensorCount > MAX_TENSORS || tensorCount * minTensor > cursor.remaining) {
    throw limitError("the tensor index", tensorCount, countsAt, cursor.remaining, minTensor);
  }

  const metadata = new Map<string, GgufMetadataEntry>();
  const duplicateKeys: GgufMetadataEntry[] = [];
  for (let i = 0; i < kvCount; i++) {
    const offset = cursor.pos;
    const key = cursor.string(wide, `the key of metadata entry ${i}`);
    const typeAt = cursor.pos;
    const type = cursor.u32(`the value type of "${key}"`);
    if (type > GgufValueType.FLOAT64) throw badValueType(typeAt, type, `"${key}"`);
    const value = readValue(cursor, type, wide, `the value of "${key}"`, 0);
    const entry: GgufMetadataEntry = { key, type: type as GgufValueType, value, offset };
    if (!metadata.has(key)) {
      metadata.set(key, entry);
    } else if (lenient) {
      duplicateKeys.push(entry);
    } else {
      throw new GgufError(
        "DUPLICATE_KEY",
        `Cannot read metadata: key "${key}" at byte ${
          formatInteger(offset)
        } repeats the entry at byte ${
          formatInteger(metadata.get(key)!.offset)
        } (ggml refuses such files; read leniently, --lenient, to keep the first value)`,
        offset,
      );
    }
  }
  const alignment = alignmentOf(metadata);

  const tensors: TensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    tensors.push(readTensorInfo(cursor, wide, i, names, lenient));
  }
  const headerSize = cursor.pos;
  const dataOffset = alignOffset(headerSize, alignment);
  const fileSize = complete ? bytes.length : totalSize;
  placeTensors(tensors, dataOffset, alignment, fileSize);
  return {
    version,
    littleEndian: cursor.littleEndian,
    alignment,
    dataOffset,
    headerSize,
    fileSize,
    metadata,
    tensors,
    duplicateKeys,
  };
}

function readTensorInfo(
  cursor: Cursor,
  wide: boolean,
  index: number,
  names: Set<string>,
  lenient: boolean,
): TensorInfo {
  const indexOffset = cursor.pos;
  const name = cursor.string(wide, `the name of tensor ${index}`);
  const what = `tensor info "${name}"`;
  if (names.has(name)) {
    throw new GgufError(
      "DUPLICATE_TENSOR",
      `Cannot read ${what} at byte ${
        formatInteger(indexOffset)
      }: an earlier tensor has the same name`,
      indexOffset,
    );
  }
  names.add(name);
  const dimsAt = cursor.pos;
  const dims = cursor.u32(`the dimension count of ${what}`);
  if (dims < 1 || dims > MAX_DIMS) {
    throw new GgufError(
      "BAD_SHAPE",
      `Cannot read ${what} at byte ${
        formatInteger(dimsAt)
      }: it has ${dims} dimensions, expected 1 to ${MAX_DIMS}`,
      dimsAt,
    );
  }
  const shape: number[] = [];
  let elements = 1;
  for (let d = 0; d < dims; d++) {
    const at = cursor.pos;
    const size = wide
      ? cursor.u64(`dimension ${d} of ${what}`)
      : cursor.u32(`dimension ${d} of ${what}`);
    elements *= size;
    if (!Number.isSafeInteger(elements)) {
      throw new GgufError(
        "BAD_SHAPE",
        `Cannot read ${what} at byte ${
          formatInteger(at)
        }: its element count overflows 2^53 - 1 (shape so far ${[...shape, size].join(" x ")})`,
        at,
      );
    }
    shape.push(size);
  }
  const typeAt = cursor.pos;
  const type = cursor.u32(`the type of ${what}`);
  const traits = ggmlType(type);
  if (traits === undefined) {
    throw new GgufError(
      "UNSUPPORTED_TYPE",
      `Cannot read ${what} at byte ${
        formatInteger(typeAt)
      }: type id ${type} is not a ggml type (removed or newer than this reader)`,
      typeAt,
    );
  }
  const rowsFit = shape[0] % traits.blockSize === 0;
  if (!rowsFit && !(lenient && elements % traits.blockSize === 0)) {
    throw new GgufError(
      "BAD_BLOCK_SIZE",
      `Cannot read ${what} at byte ${formatInteger(dimsAt)}: its row length ${
        formatInteger(shape[0])
      } is not a multiple of the ${traits.name} block size ${traits.blockSize}${
        elements % traits.blockSize === 0
          ? " (blocks run across rows; read leniently, --lenient, to accept)"
          : ""
      }`,
      dimsAt,
    );
  }
  const offset = cursor.u64(`the data offset of ${what}`);
  const nbytes = (elements / traits.blockSize) * traits.bytesPerBlock;
  return {
    name,
    type,
    typeName: traits.name,
    shape,
    elements,
    offset,
    fileOffset: 0,
    nbytes,
    indexOffset,
  };
}

/** Sets absolute offsets and checks alignment, bounds and overlaps. */
function placeTensors(
  tensors: TensorInfo[],
  dataOffset: number,
  alignment: number,
  fileSize: number | undefined,
): void {
  for (const tensor of tensors) {
    const what = `tensor "${tensor.name}"`;
    if (tensor.offset % alignment !== 0) {
      throw new GgufError(
        "BAD_ALIGNMENT",
        `Cannot place ${what}: its data offset ${
          formatInteger(tensor.offset)
        } is not a multiple of the alignment ${alignment}`,
        tensor.indexOffset,
      );
    }
    tensor.fileOffset = dataOffset + tensor.offset;
    const end = tensor.fileOffset + tensor.nbytes;
    if (!Number.isSafeInteger(end) || (fileSize !== undefined && end > fileSize)) {
      throw new GgufError(
        "OUT_OF_BOUNDS",
        `Cannot read ${what}: its data ends at byte ${
          formatInteger(end)
        }, past the end of the file (${formatInteger(fileSize ?? 0)} bytes)`,
        tensor.indexOffset,
      );
    }
  }
  const byOffset = tensors.slice().sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < byOffset.length; i++) {
    const previous = byOffset[i - 1];
    const current = byOffset[i];
    if (current.offset < previous.offset + previous.nbytes) {
      throw new GgufError(
        "OVERLAP",
        `Cannot place tensor "${current.name}": its data at byte ${
          formatInteger(current.fileOffset)
        } overlaps tensor "${previous.name}" (bytes ${formatInteger(previous.fileOffset)} to ${
          formatInteger(previous.fileOffset + previous.nbytes)
        })`,
        current.indexOffset,
      );
    }
  }
}
