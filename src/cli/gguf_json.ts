/**
 * A plain-JSON description of a parsed header, in the schema of the reference fixtures
 * (`version`, `alignment`, `data_offset`, `metadata`, `tensors`).
 *
 * @module
 */
import {
  GGUF_VALUE_TYPE_NAMES,
  type GgufArray,
  type GgufFile,
  type GgufValue,
  GgufValueType,
} from "../model/gguf_file.ts";
import { float32Text } from "./float32_text.ts";

/** Arrays longer than this are shown as `head` and `tail` of {@linkcode ARRAY_EDGE} elements. */
export const ARRAY_PREVIEW_LIMIT = 64;
/** Elements in an array's `head` and `tail`. */
export const ARRAY_EDGE = 8;

/** A JSON-ready metadata value. */
export type JsonScalar = number | string | boolean | null;

/** A JSON-ready array value. */
export interface JsonArray {
  elem: string;
  len: number;
  value?: (JsonScalar | JsonArray)[];
  head?: (JsonScalar | JsonArray)[];
  tail?: (JsonScalar | JsonArray)[];
}

/** A JSON-ready metadata entry. */
export type JsonMetadataEntry =
  | { type: string; value: JsonScalar }
  | ({ type: "ARRAY" } & JsonArray);

/** A JSON-ready tensor index entry. */
export interface JsonTensor {
  name: string;
  type: string;
  type_id: number;
  shape: number[];
  offset: number;
  nbytes: number;
}

/** The JSON description of a header. */
export interface GgufJson {
  version: number;
  byte_order: "little" | "big";
  alignment: number;
  data_offset: number;
  file_size: number | null;
  metadata: Record<string, JsonMetadataEntry>;
  tensors: JsonTensor[];
}

/** 64-bit integers as numbers when exact, else as decimal strings; non-finite floats as `null`. */
function scalarToJson(value: number | bigint | boolean | string): JsonScalar {
  if (typeof value === "bigint") {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  }
  if (typeof value === "number" && !Number.isFinite(value)) return null;
  return value;
}

/**
 * A FLOAT32 value as the shortest decimal that reads back as it (`1e-5`, not
 * `0.000009999999747378752`), as `--key` and the plan print it.
 */
function float32ToJson(value: number): JsonScalar {
  return Number.isFinite(value) ? Number(float32Text(value)) : null;
}

function elementToJson(value: unknown, float32: boolean): JsonScalar | JsonArray {
  if (typeof value === "object" && value !== null) return arrayToJson(value as GgufArray);
  if (float32) return float32ToJson(value as number);
  return scalarToJson(value as number | bigint | boolean | string);
}

function arrayToJson(array: GgufArray): JsonArray {
  const values = array.values as ArrayLike<unknown>;
  const len = values.length;
  const elem = GGUF_VALUE_TYPE_NAMES[array.elementType];
  const float32 = array.elementType === GgufValueType.FLOAT32;
  const pick = (start: number, end: number) => {
    const out: (JsonScalar | JsonArray)[] = [];
    for (let i = start; i < end; i++) out.push(elementToJson(values[i], float32));
    return out;
  };
  if (len > ARRAY_PREVIEW_LIMIT) {
    return { elem, len, head: pick(0, ARRAY_EDGE), tail: pick(len - ARRAY_EDGE, len) };
  }
  return { elem, len, value: pick(0, len) };
}

/**
 * Converts one metadata value to its JSON form.
 *
 * @example
 * ```ts
 * import { metadataValueToJson } from "./gguf_json.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(metadataValueToJson(10, 2n ** 63n), { type: "UINT64", value: "9223372036854775808" });
 * ```
 */
export function metadataValueToJson(type: number, value: GgufValue): JsonMetadataEntry {
  if (typeof value === "object") return { type: "ARRAY", ...arrayToJson(value) };
  const json = type === GgufValueType.FLOAT32
    ? float32ToJson(value as number)
    : scalarToJson(value);
  return { type: GGUF_VALUE_TYPE_NAMES[type], value: json };
}

/**
 * Describes a parsed header as plain JSON in the fixtures' schema.
 *
 * @param file A header from {@linkcode readGguf}.
 * @returns A JSON-ready object; `JSON.stringify` it to print.
 *
 * @example
 * ```ts
 * import { ggufToJson } from "./gguf_json.ts";
 * import { readGguf } from "gguf-stream";
 * import assert from "node:assert/strict";
 * const bytes = new Uint8Array(24);
 * bytes.set([0x47, 0x47, 0x55, 0x46, 3]);
 * const json = ggufToJson(await readGguf(bytes));
 * assert.equal(json.data_offset, 32);
 * assert.deepEqual(json.tensors, []);
 * ```
 */
export function ggufToJson(file: GgufFile): GgufJson {
  const metadata: Record<string, JsonMetadataEntry> = {};
  for (const [key, entry] of file.metadata) {
    metadata[key] = metadataValueToJson(entry.type, entry.value);
  }
  return {
    version: file.version,
    byte_order: file.littleEndian ? "little" : "big",
    alignment: file.alignment,
    data_offset: file.dataOffset,
    file_size: file.fileSize ?? null,
    metadata,
    tensors: file.tensors.map((t) => ({
      name: t.name,
      type: t.typeName,
      type_id: t.type,
      shape: t.shape,
      offset: t.offset,
      nbytes: t.nbytes,
    })),
  };
}
