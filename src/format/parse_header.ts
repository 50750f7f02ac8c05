/**
 * The only parser of GGUF headers: magic, version, metadata and tensor index, with
 * every count, size and offset validated before it is used.
 *
 * Every check of ggml's reader, `gguf_init_from_reader()` in ggml's src/gguf.cpp (line
 * numbers at ggml commit d99724f2b141fed9e1a9f402213506c081433465), is made here, so a
 * file read without `lenient` is one llama.cpp loads:
 *
 * | gguf.cpp | what it checks | here |
 * | --- | --- | --- |
 * | 468 | magic `GGUF` | `BAD_MAGIC` |
 * | 485, 506 | version 0, version > 3 | `UNSUPPORTED_VERSION` |
 * | 517, 528 | tensor and key counts in range | `LIMIT_EXCEEDED` (tighter: what the bytes can hold) |
 * | 345, 349 | a string longer than 1 GiB or than the bytes left | `TRUNCATED`, and the memory budget |
 * | 560 | an empty key | `BAD_NAME` (lenient accepts) |
 * | 565 | a repeated key | `DUPLICATE_KEY` (lenient keeps the first) |
 * | 598–601 | a value type outside 0–12 | `BAD_VALUE_TYPE` |
 * | 614 | `general.alignment` not a UINT32 | `BAD_METADATA` (lenient accepts other integers) |
 * | 623 | alignment 0 or not a power of two | `BAD_ALIGNMENT` |
 * | 646 | a tensor name of `GGML_MAX_NAME` (64) bytes or more | `BAD_NAME` (lenient accepts) |
 * | 655 | a repeated tensor name, compared as C strings (up to a NUL) | `DUPLICATE_TENSOR` |
 * | 670 | more than 4 dimensions (0 is allowed: every `ne` stays 1) | `BAD_SHAPE` |
 * | 683 | a negative dimension | `LIMIT_EXCEEDED` (read unsigned, past 2^53) |
 * | 694 | an element count past INT64_MAX (a dimension of 0 is allowed) | `BAD_SHAPE` (past 2^53) |
 * | 714 | a type id outside ggml's table | `UNSUPPORTED_TYPE` |
 * | 724 | a row length that is not a multiple of the block size | `BAD_BLOCK_SIZE` (lenient: blocks across rows) |
 * | 733 | a byte size past SIZE_MAX | `OUT_OF_BOUNDS` (past 2^53) |
 * | 779 | data offsets other than back to back, padded | `BAD_LAYOUT` (lenient accepts) |
 *
 * Beyond ggml, data must lie inside the file (`OUT_OF_BOUNDS`), be aligned and not overlap.
 * Read where ggml refuses: GGUF v1 (gguf.cpp 502), the other byte order (497) and arrays
 * of arrays (601), as gguf-py reads them; a conversion writes them as GGUF v3, little-endian.
 *
 * @module
 */
import { Cursor } from "./cursor.ts";
import { decodeUtf8 } from "./utf8.ts";
import { describeNotGguf } from "./not_gguf.ts";
import {
  ARRAY_COST,
  BOOLEAN_COST,
  CHAR_COST,
  DEFAULT_MAX_HEADER_MEMORY,
  ENTRY_COST,
  HEADER_BYTE_COST,
  MAX_LIST_LENGTH,
  MemoryBudget,
  SLOT_COST,
  STRING_COST,
  TENSOR_COST,
  TYPED_ARRAY_COST,
} from "./memory_budget.ts";
import { formatInteger, GgufError } from "../model/errors.ts";
import type { OptionKeys } from "../model/option_keys.ts";
import { bytesFor, ggmlType } from "../model/ggml_type.ts";
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
   * Accept defects that ggml refuses: a metadata key written twice (the first value
   * wins; the others are listed in `duplicateKeys`), tensors whose row length is not a
   * multiple of the block size when the element count is (blocks running across rows),
   * tensor data with gaps or out of index order (ggml wants each tensor's data right
   * after the previous one's, padded to the alignment), `general.alignment` stored as
   * an integer type other than UINT32, an empty key, tensor names of 64 bytes or more
   * (ggml's `GGML_MAX_NAME`), and tensor names that differ only after a NUL (the same
   * name to ggml, which reads names as C strings). Default `false`.
   */
  lenient?: boolean;
  /**
   * The most memory, in bytes, the parsed header may take. Every string, array element,
   * nested array, metadata entry and tensor entry is charged an estimate of its in-memory
   * cost before it is allocated, and the parse ends with `LIMIT_EXCEEDED` once the budget
   * is spent, so a hostile header cannot exhaust the process. Default 64 MiB
   * ({@linkcode DEFAULT_MAX_HEADER_MEMORY}); a Llama-3-like vocabulary (128k tokens, 280k
   * merges) needs 44 MiB, a Gemma-3-like one (262k tokens) 29 MiB.
   */
  maxHeaderMemory?: number;
}

/** Every key of {@linkcode ParseOptions}, for option checks. */
export const PARSE_OPTION_KEYS: OptionKeys<ParseOptions> = { lenient: true, maxHeaderMemory: true };

export { DEFAULT_MAX_HEADER_MEMORY };

/** `GGUF` read as a little-endian u32. */
const GGUF_MAGIC = 0x46554747;
/** ggml's default alignment when `general.alignment` is absent. */
export const DEFAULT_ALIGNMENT = 32;
/** The most dimensions a ggml tensor has. */
export const MAX_DIMS = 4;
/** ggml's `GGML_MAX_NAME`: a tensor name takes fewer bytes, its C string's NUL included. */
const MAX_NAME_BYTES = 64;
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
 * import { alignOffset } from "gguf-stream/pipeline";
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

/**
 * A count past what the input can hold (`remaining` bytes, `min` each) or past `cap`, the
 * bound that holds whatever the input's size (a stream's is unknown): which one, said.
 */
function limitError(
  what: string,
  count: number,
  things: string,
  at: number,
  remaining: number,
  min: number,
  cap: number,
) {
  const why = count > cap
    ? `more than the ${formatInteger(cap)} gguf-stream reads (a bound whatever the input's size)`
    : `but only ${formatInteger(remaining)} bytes remain and each needs at least ${min}`;
  return new GgufError(
    "LIMIT_EXCEEDED",
    `Cannot read ${what} at byte ${formatInteger(at)}: the header declares ${
      formatInteger(count)
    } ${things}, ${why}`,
    at,
  );
}

/** A metadata value for a message: its type and, for a scalar, the value; an array's length. */
function describeValue(entry: GgufMetadataEntry): string {
  const type = GGUF_VALUE_TYPE_NAMES[entry.type];
  if (typeof entry.value !== "object") return `${type} ${String(entry.value)}`;
  const array = entry.value;
  return `an ARRAY of ${formatInteger(array.values.length)} ${
    GGUF_VALUE_TYPE_NAMES[array.elementType]
  }`;
}

/**
 * One walk over a header. A scan walks it without allocating anything (strings and arrays
 * are stepped over) to find where it ends and charge what it will cost; a parse builds it.
 */
interface Walk {
  readonly cursor: Cursor;
  /** GGUF v2+: 64-bit counts and lengths. */
  readonly wide: boolean;
  readonly budget: MemoryBudget;
  /** `true` to check sizes and costs only, keeping nothing. */
  readonly scan: boolean;
  /** The last scalar's bytes where its value cannot say them (see `GgufMetadataEntry.raw`). */
  raw?: Uint8Array;
}

/**
 * The `size` bytes just read at the cursor, little-endian: what a writer puts back for a
 * value its decoding cannot say exactly.
 */
function bytesJustRead(cursor: Cursor, size: number): Uint8Array {
  const bytes = cursor.bytes.slice(cursor.pos - size, cursor.pos);
  return cursor.littleEndian ? bytes : bytes.reverse();
}

/** What a scan returns for an array it stepped over. */
const SCANNED: GgufArray = Object.freeze({ elementType: GgufValueType.UINT8, values: [] });

/** Parses one value of type `type` at the cursor, charging the budget for what it allocates. */
function readValue(walk: Walk, type: number, what: string, depth: number): GgufValue {
  const { cursor, scan } = walk;
  if (scan && type < VALUE_SIZES.length && VALUE_SIZES[type] > 0) {
    cursor.skip(VALUE_SIZES[type], what);
    return 0;
  }
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
    case GgufValueType.FLOAT32: {
      const value = cursor.f32(what);
      if (Number.isNaN(value)) walk.raw = bytesJustRead(cursor, 4);
      return value;
    }
    case GgufValueType.BOOL: {
      const byte = cursor.u8(what);
      if (byte > 1) walk.raw = bytesJustRead(cursor, 1);
      return byte !== 0;
    }
    case GgufValueType.STRING:
      walk.budget.charge(STRING_COST, cursor.pos, what);
      if (!scan) return cursor.string(walk.wide, what);
      cursor.skipString(walk.wide, what);
      return "";
    case GgufValueType.UINT64:
      return cursor.u64Big(what);
    case GgufValueType.INT64:
      return cursor.i64Big(what);
    case GgufValueType.FLOAT64: {
      const value = cursor.f64(what);
      if (Number.isNaN(value)) walk.raw = bytesJustRead(cursor, 8);
      return value;
    }
    case GgufValueType.ARRAY:
      return readArray(walk, what, depth + 1, false);
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

/**
 * Reads an array. Its elements are charged to the budget as soon as its length is known,
 * before any is read; `prepaid` when the enclosing array already paid for this one's object.
 */
function readArray(walk: Walk, what: string, depth: number, prepaid: boolean): GgufArray {
  const { cursor, budget, scan } = walk;
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
  if (!prepaid) budget.charge(ARRAY_COST, typeAt, what);
  const elementType = cursor.u32(`the element type of ${what}`);
  if (elementType > GgufValueType.FLOAT64) throw badValueType(typeAt, elementType, what);
  const lengthAt = cursor.pos;
  const length = cursor.length(walk.wide, `the length of ${what}`);
  const size = VALUE_SIZES[elementType];
  // Strings need at least their length field, nested arrays a type and a length.
  const minSize = size > 0
    ? size
    : elementType === GgufValueType.STRING
    ? (walk.wide ? 8 : 4)
    : (walk.wide ? 12 : 8);
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
    budget.charge(TYPED_ARRAY_COST + length * size, lengthAt, what);
    if (scan) {
      cursor.skip(length * size, what);
      return SCANNED;
    }
    return { elementType: type, values: readNumbers(cursor, type, length, what) };
  }
  if (length > MAX_LIST_LENGTH) {
    throw new GgufError(
      "LIMIT_EXCEEDED",
      `Cannot read ${what} at byte ${formatInteger(lengthAt)}: it declares ${
        formatInteger(length)
      } ${GGUF_VALUE_TYPE_NAMES[elementType]} elements, more than the ${
        formatInteger(MAX_LIST_LENGTH)
      } a JavaScript array holds on every runtime`,
      lengthAt,
    );
  }
  if (type === GgufValueType.BOOL) {
    budget.charge(length * BOOLEAN_COST, lengthAt, what);
    cursor.need(length, what);
    const bytes = cursor.bytes;
    const start = cursor.pos;
    cursor.pos += length;
    if (scan) return SCANNED;
    const values: boolean[] = [];
    let other = false;
    for (let i = 0; i < length; i++) {
      const byte = bytes[start + i];
      values.push(byte !== 0);
      if (byte > 1) other = true;
    }
    if (!other) return { elementType: type, values };
    // A byte other than 0 or 1: the bytes are kept to be written back as they are.
    budget.charge(length, lengthAt, what);
    return { elementType: type, values, raw: bytes.slice(start, start + length) };
  }
  if (type === GgufValueType.STRING) {
    budget.charge(length * (SLOT_COST + STRING_COST), lengthAt, what);
    const values = readStrings(walk, length, what);
    return scan ? SCANNED : { elementType: type, values };
  }
  budget.charge(length * (SLOT_COST + ARRAY_COST), lengthAt, what);
  const values: GgufArray[] = [];
  for (let i = 0; i < length; i++) {
    const value = readArray(walk, what, depth + 1, true);
    if (!scan) values.push(value);
  }
  return scan ? SCANNED : { elementType: type, values };
}

/**
 * Reads `length` strings (a scan steps over them and returns none), their headers already
 * charged. The common case (little-endian, lengths under 4 GiB, all in the buffer) runs in
 * one tight loop; anything else goes through the checked cursor methods, which raise the
 * right error.
 */
function readStrings(walk: Walk, length: number, what: string): string[] {
  const { cursor, budget, scan, wide } = walk;
  const values: string[] = [];
  const bytes = cursor.bytes;
  const end = bytes.length;
  let pos = cursor.pos;
  let done = 0;
  if (wide && cursor.littleEndian) {
    while (done < length && pos + 8 <= end) {
      // The length as arithmetic on bytes; a high word other than 0 takes the checked path.
      const size = bytes[pos] + bytes[pos + 1] * 0x100 + bytes[pos + 2] * 0x10000 +
        bytes[pos + 3] * 0x1000000;
      if (bytes[pos + 4] + bytes[pos + 5] + bytes[pos + 6] + bytes[pos + 7] !== 0) break;
      const start = pos + 8;
      if (start + size > end) break;
      budget.charge(CHAR_COST * size, pos, what);
      if (!scan) values.push(decodeUtf8(bytes, start, start + size));
      pos = start + size;
      done++;
    }
  }
  cursor.pos = pos;
  for (; done < length; done++) {
    if (scan) cursor.skipString(wide, what);
    else values.push(cursor.string(wide, what));
  }
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

/**
 * Reads `general.alignment`, checking it is a power of two, and (unless `lenient`) that it
 * is a UINT32 as ggml requires (ggml's `gguf_get_val_u32` aborts on any other type).
 */
function alignmentOf(metadata: Map<string, GgufMetadataEntry>, lenient: boolean): number {
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
      }: expected a power of ${""}two as an integer, found ${describeValue(entry)}`,
      entry.offset,
    );
  }
  if (entry.type !== GgufValueType.UINT32 && !lenient) {
    throw new GgufError(
      "BAD_METADATA",
      `Cannot use general.alignment at byte ${
        formatInteger(entry.offset)
      }: ggml requires a UINT32, found ${
        describeValue(entry)
      } (ggml refuses such files; read leniently, option lenient: true, to accept it)`,
      entry.offset,
    );
  }
  return value;
}

/**
 * Parses the header, metadata and tensor index from the start of a GGUF file.
 * `bytes` may be a prefix of the file (`complete: false`), in which case running past
 * its end throws the internal `NeedMoreBytes` signal for the caller to retry; that is
 * found by a scan that allocates nothing, so a retry leaves no garbage behind.
 * Everything the header holds is charged to a budget of `options.maxHeaderMemory` bytes
 * before it is allocated (`LIMIT_EXCEEDED` past it).
 */
export function parseGgufHeader(
  bytes: Uint8Array,
  complete: boolean,
  totalSize: number | undefined,
  options: ParseOptions = {},
): GgufFile {
  const max = options.maxHeaderMemory ?? DEFAULT_MAX_HEADER_MEMORY;
  if (options.lenient !== undefined && typeof options.lenient !== "boolean") {
    throw new TypeError(`lenient must be true or false, not ${JSON.stringify(options.lenient)}`);
  }
  // The scan finds the end of the header (or that `bytes` stops short of it) and charges
  // its whole cost without allocating: neither a short prefix nor a header past the budget
  // leaves garbage behind. Only then is the header built, charged again as it is.
  try {
    walkHeader(bytes, complete, totalSize, options, new MemoryBudget(max), true);
  } catch (error) {
    // A short prefix or a spent budget ends here. Another defect is found again by the
    // parse (within budget), for its fuller message and the checks it alone makes first.
    if (!(error instanceof GgufError) || error.code === "LIMIT_EXCEEDED") throw error;
    walkHeader(bytes, complete, totalSize, options, new MemoryBudget(max), false);
    throw error;
  }
  return walkHeader(bytes, complete, totalSize, options, new MemoryBudget(max), false)!;
}

/** Scans (returning `undefined`) or parses the header. */
function walkHeader(
  bytes: Uint8Array,
  complete: boolean,
  totalSize: number | undefined,
  options: ParseOptions,
  budget: MemoryBudget,
  scan: boolean,
): GgufFile | undefined {
  const lenient = options.lenient === true;
  const cursor = new Cursor(bytes, complete, totalSize);
  cursor.budget = budget;
  if (complete && bytes.length === 0) {
    throw new GgufError("TRUNCATED", "Cannot read the header: the file is empty (0 bytes)", 0);
  }
  const magic = cursor.u32("the magic number");
  if (magic !== GGUF_MAGIC) {
    const found = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0"));
    const what = describeNotGguf(bytes);
    throw new GgufError(
      "BAD_MAGIC",
      `Cannot read the header: expected the magic bytes "GGUF" (47 47 55 46) at byte 0, found ${
        found.join(" ")
      }; this is ${what ?? "not a GGUF file"}`,
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
  const walk: Walk = { cursor, wide, budget, scan };
  const countsAt = cursor.pos;
  const tensorCount = cursor.length(wide, "the tensor count");
  const kvCountAt = cursor.pos;
  const kvCount = cursor.length(wide, "the metadata count");
  const minTensor = wide ? MIN_TENSOR_BYTES : MIN_TENSOR_BYTES_V1;
  const minKv = wide ? MIN_KV_BYTES : MIN_KV_BYTES_V1;
  if (kvCount > MAX_KEYS || kvCount * minKv > cursor.remaining) {
    throw limitError("the metadata", kvCount, "keys", kvCountAt, cursor.remaining, minKv, MAX_KEYS);
  }
  if (tensorCount > MAX_TENSORS || tensorCount * minTensor > cursor.remaining) {
    throw limitError(
      "the tensor index",
      tensorCount,
      "tensors",
      countsAt,
      cursor.remaining,
      minTensor,
      MAX_TENSORS,
    );
  }
  // Both counts are charged up front: millions of entries are refused before the first.
  budget.charge(
    tensorCount * (TENSOR_COST + STRING_COST),
    countsAt,
    `the tensor index (${formatInteger(tensorCount)} tensors)`,
  );
  budget.charge(
    kvCount * (ENTRY_COST + STRING_COST),
    kvCountAt,
    `the metadata (${formatInteger(kvCount)} entries)`,
  );

  const metadata = new Map<string, GgufMetadataEntry>();
  const duplicateKeys: GgufMetadataEntry[] = [];
  for (let i = 0; i < kvCount; i++) {
    const offset = cursor.pos;
    // Keys are decoded even by a scan, to name them in errors (they were charged up front).
    const key = cursor.string(wide, `the key of metadata entry ${i}`);
    if (key === "" && !lenient) {
      // gguf.cpp:560, gguf_init_from_reader(): "key is empty".
      throw new GgufError(
        "BAD_NAME",
        `Cannot read metadata entry ${i} at byte ${
          formatInteger(offset)
        }: its key is empty (ggml refuses such files; read leniently, option lenient: true, to accept)`,
        offset,
      );
    }
    const typeAt = cursor.pos;
    const type = cursor.u32(`the value type of "${key}"`);
    if (type > GgufValueType.FLOAT64) throw badValueType(typeAt, type, `"${key}"`);
    walk.raw = undefined;
    const value = readValue(walk, type, `the value of "${key}"`, 0);
    if (scan) continue;
    const entry: GgufMetadataEntry = { key, type: type as GgufValueType, value, offset };
    if (walk.raw !== undefined) entry.raw = walk.raw;
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
        } (ggml refuses such files; read leniently, option lenient: true, to keep the first value)`,
        offset,
      );
    }
  }
  if (scan) {
    for (let i = 0; i < tensorCount; i++) scanTensorInfo(cursor, wide);
    // The header's bytes are held too: the prefix read, and a conversion's output header.
    budget.charge(HEADER_BYTE_COST * cursor.pos, 0, "the header's bytes");
    return undefined;
  }
  const alignment = alignmentOf(metadata, lenient);

  const tensors: TensorInfo[] = [];
  const names = { exact: new Set<string>(), c: new Set<string>() };
  for (let i = 0; i < tensorCount; i++) {
    tensors.push(readTensorInfo(cursor, wide, i, names, lenient));
  }
  const headerSize = cursor.pos;
  const dataOffset = alignOffset(headerSize, alignment);
  const fileSize = complete ? bytes.length : totalSize;
  placeTensors(tensors, dataOffset, alignment, fileSize, lenient);
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

/** Steps over one tensor-index entry (its fields are checked when it is parsed). */
function scanTensorInfo(cursor: Cursor, wide: boolean): void {
  cursor.skipString(wide, "the name of a tensor"); // charged up front
  const dimsAt = cursor.pos;
  const dims = cursor.u32("the dimension count of a tensor");
  if (dims > MAX_DIMS) {
    throw new GgufError(
      "BAD_SHAPE",
      `Cannot read a tensor at byte ${
        formatInteger(dimsAt)
      }: it has ${dims} dimensions, expected 0 to ${MAX_DIMS}`,
      dimsAt,
    );
  }
  // The dimensions, the type and the data offset.
  cursor.skip(dims * (wide ? 8 : 4) + 4 + 8, "a tensor's shape, type and offset");
}

function readTensorInfo(
  cursor: Cursor,
  wide: boolean,
  index: number,
  names: { exact: Set<string>; c: Set<string> },
  lenient: boolean,
): TensorInfo {
  const indexOffset = cursor.pos;
  const name = cursor.string(wide, `the name of tensor ${index}`); // charged up front
  const what = `tensor info "${name}"`;
  const nameBytes = cursor.pos - indexOffset - (wide ? 8 : 4);
  if (nameBytes >= MAX_NAME_BYTES && !lenient) {
    // gguf.cpp:646, gguf_init_from_reader(): "tensor name is too long" (GGML_MAX_NAME).
    throw new GgufError(
      "BAD_NAME",
      `Cannot read ${what} at byte ${
        formatInteger(indexOffset)
      }: its name takes ${nameBytes} bytes, ggml's limit is ${
        MAX_NAME_BYTES - 1
      } (ggml refuses such files; read leniently, option lenient: true, to accept)`,
      indexOffset,
    );
  }
  // gguf.cpp:655 compares names as C strings: "a\0x" repeats "a\0y" for llama.cpp.
  const cName = name.split("\0", 1)[0];
  if (names.exact.has(name) || (!lenient && names.c.has(cName))) {
    throw new GgufError(
      "DUPLICATE_TENSOR",
      `Cannot read ${what} at byte ${
        formatInteger(indexOffset)
      }: an earlier tensor has the same name${
        names.exact.has(name)
          ? ""
          : " up to a NUL, as ggml compares names (read leniently, option lenient: true, to accept)"
      }`,
      indexOffset,
    );
  }
  names.exact.add(name);
  names.c.add(cName);
  const dimsAt = cursor.pos;
  const dims = cursor.u32(`the dimension count of ${what}`);
  // gguf.cpp:670: at most GGML_MAX_DIMS. No dimensions is a single element (gguf.cpp:677
  // sets every ne to 1), kept as the shape [1] that ggml writes back.
  if (dims > MAX_DIMS) {
    throw new GgufError(
      "BAD_SHAPE",
      `Cannot read ${what} at byte ${
        formatInteger(dimsAt)
      }: it has ${dims} dimensions, expected 0 to ${MAX_DIMS}`,
      dimsAt,
    );
  }
  const shape: number[] = dims === 0 ? [1] : [];
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
          ? " (blocks run across rows; read leniently, option lenient: true, to accept)"
          : ""
      }`,
      dimsAt,
    );
  }
  const offset = cursor.u64(`the data offset of ${what}`);
  const nbytes = bytesFor(traits, elements);
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

/**
 * Sets absolute offsets and checks alignment, bounds and overlaps, then (unless `lenient`)
 * the layout ggml requires: each tensor's data right after the previous one's in index
 * order, padded to the alignment — no gaps, no other order.
 */
function placeTensors(
  tensors: TensorInfo[],
  dataOffset: number,
  alignment: number,
  fileSize: number | undefined,
  lenient: boolean,
): void {
  let ordered = true;
  for (let i = 0; i < tensors.length; i++) {
    const tensor = tensors[i];
    if (i > 0 && tensor.offset < tensors[i - 1].offset) ordered = false;
    if (tensor.offset % alignment !== 0) {
      throw new GgufError(
        "BAD_ALIGNMENT",
        `Cannot place tensor "${tensor.name}": its data offset ${
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
        `Cannot read tensor "${tensor.name}": its data ends at byte ${
          formatInteger(end)
        }, past the end of the file (${formatInteger(fileSize ?? 0)} bytes)`,
        tensor.indexOffset,
      );
    }
  }
  // Sorted only when the index is out of data order (a copy: the index keeps its order).
  const byOffset = ordered ? tensors : tensors.slice().sort((a, b) => a.offset - b.offset);
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
  if (lenient) return;
  const layoutError = (tensor: TensorInfo, expected: number, defect: string) =>
    new GgufError(
      "BAD_LAYOUT",
      `Cannot place tensor "${tensor.name}": its data offset ${
        formatInteger(tensor.offset)
      } is not ${
        formatInteger(expected)
      }, where the tensors before it in the index end (padded to ${alignment}): ${defect} (ggml refuses such files; read leniently, option lenient: true, to accept)`,
      tensor.indexOffset,
    );
  let expected = 0;
  for (const tensor of tensors) {
    if (tensor.offset !== expected) {
      const where = expected === 0 ? "at the start of the data section" : "before it";
      throw layoutError(
        tensor,
        expected,
        ordered
          ? `a gap of ${formatInteger(tensor.offset - expected)} bytes ${where}`
          : "the data is not in index order",
      );
    }
    expected += alignOffset(tensor.nbytes, alignment);
  }
}
