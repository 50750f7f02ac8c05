/**
 * The data model of a parsed GGUF file.
 *
 * @module
 */
import type { GgmlTypeName } from "./ggml_type.ts";

/** GGUF metadata value type ids, as the file stores them. */
export const GgufValueType = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;

/** A GGUF metadata value type id (0–12). */
export type GgufValueType = typeof GgufValueType[keyof typeof GgufValueType];

/** The integer value types, 8 to 64 bits, signed and unsigned. */
export const INTEGER_VALUE_TYPES: ReadonlySet<number> = new Set([
  GgufValueType.UINT8,
  GgufValueType.INT8,
  GgufValueType.UINT16,
  GgufValueType.INT16,
  GgufValueType.UINT32,
  GgufValueType.INT32,
  GgufValueType.UINT64,
  GgufValueType.INT64,
]);

/** The upper-case name of each {@linkcode GgufValueType}, indexed by id. */
export const GGUF_VALUE_TYPE_NAMES: readonly string[] = [
  "UINT8",
  "INT8",
  "UINT16",
  "INT16",
  "UINT32",
  "INT32",
  "FLOAT32",
  "BOOL",
  "STRING",
  "ARRAY",
  "UINT64",
  "INT64",
  "FLOAT64",
];

/** An array metadata value: its element type and its elements. */
export interface GgufArray {
  /** The type of every element. */
  elementType: GgufValueType;
  /**
   * The elements: a typed array for numbers (`BigInt64Array`/`BigUint64Array` for
   * 64-bit integers), `boolean[]`, `string[]`, or nested `GgufArray[]`.
   */
  values:
    | Uint8Array
    | Int8Array
    | Uint16Array
    | Int16Array
    | Uint32Array
    | Int32Array
    | Float32Array
    | Float64Array
    | BigUint64Array
    | BigInt64Array
    | boolean[]
    | string[]
    | GgufArray[];
  /**
   * The elements' bytes as read, for a BOOL array holding a byte other than 0 or 1 (which
   * `values` reads as `true`): a writer writes these while `values` still says what they
   * do, so the byte comes back unchanged. Absent otherwise.
   */
  raw?: Uint8Array;
}

/**
 * A metadata value: `number` for 8- to 32-bit integers and floats, `bigint` for
 * 64-bit integers (exact), `boolean`, `string`, or a {@linkcode GgufArray}.
 *
 * GGUF strings are bytes. A string is their UTF-8 decoding, except that each byte that is
 * not part of well-formed UTF-8 is the lone surrogate U+DC00 + byte (U+DC80–U+DCFF), so
 * no two byte strings read alike and every one is written back unchanged;
 * `stringBytes(text)` gives the bytes.
 */
export type GgufValue = number | bigint | boolean | string | GgufArray;

/** One metadata key/value pair, as read from the file. */
export interface GgufMetadataEntry {
  /** The key: its UTF-8 decoding, bytes that are not UTF-8 as U+DC80–U+DCFF. */
  key: string;
  /** The value type id. */
  type: GgufValueType;
  /** The decoded value. */
  value: GgufValue;
  /** Byte offset of the entry (its key's length field) in the file. */
  offset: number;
  /**
   * The value's bytes as read, little-endian, where `value` cannot say them: a BOOL byte
   * other than 0 or 1 (read as `true`), a FLOAT32 or FLOAT64 NaN (its payload, and whether
   * it was signalling, are lost in a JavaScript number). A writer writes these while
   * `value` still reads the same, so the value comes back byte for byte. Absent otherwise.
   */
  raw?: Uint8Array;
}

/** One entry of the tensor index. */
export interface TensorInfo {
  /** The tensor's name: its UTF-8 decoding, bytes that are not UTF-8 as U+DC80–U+DCFF. */
  name: string;
  /** The ggml type id (see {@linkcode GGML_TYPES}). */
  type: number;
  /** The ggml type's name, e.g. `Q4_K`. */
  typeName: GgmlTypeName;
  /**
   * The dimensions in **ggml order**: `shape[0]` is the row length (the fastest-varying
   * dimension). Reverse it for the row-major order most JS tensor libraries use.
   */
  shape: number[];
  /** The number of elements (product of `shape`). */
  elements: number;
  /** The data's offset relative to the start of the data section. */
  offset: number;
  /** The data's absolute offset in the file. */
  fileOffset: number;
  /** The data's size in bytes. */
  nbytes: number;
  /** Byte offset of this entry in the tensor index. */
  indexOffset: number;
}

/** A parsed GGUF header: metadata and tensor index, no tensor data. */
export interface GgufFile {
  /** The GGUF version: 1, 2 or 3. */
  version: number;
  /** `true` for little-endian files (nearly all), `false` for big-endian ones. */
  littleEndian: boolean;
  /** The data alignment in bytes (`general.alignment`, default 32). */
  alignment: number;
  /** Absolute offset of the data section (end of the index, padded to `alignment`). */
  dataOffset: number;
  /** Absolute offset of the end of the tensor index (before padding). */
  headerSize: number;
  /** The file's size in bytes, when known. */
  fileSize: number | undefined;
  /** Metadata in file order. */
  metadata: Map<string, GgufMetadataEntry>;
  /** The tensor index in file order. */
  tensors: TensorInfo[];
  /** Entries whose key repeated an earlier one (only with `lenient: true`; otherwise an error). */
  duplicateKeys: GgufMetadataEntry[];
}
