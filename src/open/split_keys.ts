/**
 * The split-model keys of one GGUF file, read and checked as llama.cpp writes and reads
 * them: `split.no` (UINT16, the part's 0-based index), `split.count` (UINT16, the number
 * of parts) and `split.tensors.count` (INT32, the tensors of all parts together).
 *
 * `llama-gguf-split --merge` keeps the three keys in the file it joins and sets
 * `split.count` to 0, so that the joined file is not taken for a part; llama.cpp loads a
 * file whose `split.count` is 0, 1 or missing as a whole model. Such a file's `split.no`
 * can only be 0.
 *
 * @module
 */
import { formatInteger, GgufError } from "../model/errors.ts";
import {
  GGUF_VALUE_TYPE_NAMES,
  type GgufFile,
  type GgufMetadataEntry,
  GgufValueType,
  INTEGER_VALUE_TYPES,
} from "../model/gguf_file.ts";

/** The split keys of one file. */
export interface SplitKeys {
  /** `split.no`: the part's 0-based index (0 when the key is missing). */
  no: number;
  /**
   * `split.count`: the number of parts; 0 (as `llama-gguf-split --merge` writes it, or
   * when the key is missing) or 1 for a whole model.
   */
  count: number;
  /** `split.tensors.count`: the tensors of all parts together, when the file says. */
  tensors: number | undefined;
}

/** The split keys and the type llama.cpp reads each as. */
const SPLIT_KEYS = [
  ["split.no", GgufValueType.UINT16],
  ["split.count", GgufValueType.UINT16],
  ["split.tensors.count", GgufValueType.INT32],
] as const;

/**
 * Reads a file's split keys, checking each one's type and that they agree with each other.
 *
 * @param file The file's header.
 * @param options `lenient` to accept other integer types than llama.cpp's; `name`, how
 *   messages name the file.
 * @returns The keys, or `undefined` when the file has none of them.
 * @throws {GgufError} `BAD_METADATA` for a key that is not an integer, a negative one, a
 *   type other than llama.cpp's (unless `lenient`), or a `split.no` not below
 *   `split.count` (not 0, for a whole model).
 *
 * @example A merged model, and a contradiction
 * ```ts
 * import { readSplitKeys } from "./split_keys.ts";
 * import { GgufValueType } from "../model/gguf_file.ts";
 * import assert from "node:assert/strict";
 * const file = (no: number, count: number) => ({
 *   metadata: new Map([
 *     ["split.no", { key: "split.no", type: GgufValueType.UINT16, value: no, offset: 24 }],
 *     ["split.count", { key: "split.count", type: GgufValueType.UINT16, value: count, offset: 48 }],
 *   ]),
 * });
 * // As llama-gguf-split --merge leaves them: a whole model.
 * assert.deepEqual(readSplitKeys(file(0, 0), { name: "m.gguf" }), { no: 0, count: 0, tensors: undefined });
 * assert.throws(() => readSplitKeys(file(5, 1), { name: "m.gguf" }), { code: "BAD_METADATA" });
 * assert.equal(readSplitKeys({ metadata: new Map() }, { name: "m.gguf" }), undefined);
 * ```
 */
export function readSplitKeys(
  file: Pick<GgufFile, "metadata">,
  options: { lenient?: boolean; name: string },
): SplitKeys | undefined {
  const [no, count, tensors] = SPLIT_KEYS.map(([key, type]) =>
    splitKey(file.metadata.get(key), key, type, options)
  );
  if (no === undefined && count === undefined && tensors === undefined) return undefined;
  const keys = { no: no ?? 0, count: count ?? 0, tensors };
  if (keys.no >= Math.max(keys.count, 1)) {
    throw new GgufError(
      "BAD_METADATA",
      `Cannot open ${options.name}: its split.no ${keys.no} (part ${
        formatInteger(keys.no + 1)
      }) is not below its split.count ${
        count === undefined ? "(missing: 0)" : keys.count
      }; fix its split keys (a whole model has split.no 0), or open the split model it is part of by its first part's path`,
      file.metadata.get("split.no")?.offset,
    );
  }
  return keys;
}

function splitKey(
  entry: GgufMetadataEntry | undefined,
  key: string,
  type: number,
  options: { lenient?: boolean; name: string },
): number | undefined {
  if (entry === undefined) return undefined;
  const found = `${GGUF_VALUE_TYPE_NAMES[entry.type]}${
    entry.type === GgufValueType.ARRAY ? "" : ` ${String(entry.value)}`
  }`;
  const value = typeof entry.value === "bigint" ? Number(entry.value) : entry.value;
  if (
    !INTEGER_VALUE_TYPES.has(entry.type) || typeof value !== "number" ||
    !Number.isSafeInteger(value) || value < 0
  ) {
    throw new GgufError(
      "BAD_METADATA",
      `Cannot open ${options.name}: ${key} at byte ${formatInteger(entry.offset)} must be a ${
        GGUF_VALUE_TYPE_NAMES[type]
      } count, found ${found}`,
      entry.offset,
    );
  }
  if (entry.type !== type && options.lenient !== true) {
    throw new GgufError(
      "BAD_METADATA",
      `Cannot open ${options.name}: ${key} at byte ${
        formatInteger(entry.offset)
      } is ${found}, but llama.cpp reads it as a ${
        GGUF_VALUE_TYPE_NAMES[type]
      } and refuses other types (read leniently, option lenient: true, to accept it)`,
      entry.offset,
    );
  }
  return value;
}
