/**
 * Inspecting a model from the command line: metadata values as plain JSON (`--key`),
 * one-line previews of values and arrays, the model summary line of `--plan`.
 *
 * @module
 */
import { formatInteger, GgufError } from "../model/errors.ts";
import {
  GGUF_VALUE_TYPE_NAMES,
  type GgufArray,
  type GgufMetadataEntry,
  type GgufValue,
  GgufValueType,
} from "../model/gguf_file.ts";
import { modelInfo, type ModelInfoInput } from "../model/model_info.ts";
import { float32Text } from "./float32_text.ts";
import { similarNames } from "../model/similar_names.ts";
import { escapeText, quoteText } from "../model/escape_text.ts";

/** A metadata value as plain JSON. */
export type PlainJson = string | number | boolean | null | PlainJson[];

/** A number as JSON: 64-bit integers exact (a decimal string past 2^53), non-finite as null. */
function numberJson(value: number | bigint, type: number): PlainJson {
  if (typeof value === "bigint") {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  }
  if (!Number.isFinite(value)) return null;
  // A float32 as its shortest decimal, so 0.1f prints as 0.1, not 0.10000000149011612.
  return type === GgufValueType.FLOAT32 ? Number(float32Text(value)) : value;
}

function arrayJson(array: GgufArray): PlainJson[] {
  const values = array.values as ArrayLike<unknown>;
  const out: PlainJson[] = new Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = valueJson(array.elementType, values[i]);
  return out;
}

function valueJson(type: number, value: unknown): PlainJson {
  if (type === GgufValueType.ARRAY) return arrayJson(value as GgufArray);
  if (typeof value === "number" || typeof value === "bigint") return numberJson(value, type);
  return value as string | boolean;
}

/**
 * A metadata value as plain JSON, whole: strings, booleans, numbers (FLOAT32 as its
 * shortest decimal; 64-bit integers past 2^53 as decimal strings; NaN and infinities as
 * `null`) and arrays of them, every element included.
 *
 * @param entry A metadata entry.
 * @returns Its value as JSON-ready data.
 *
 * @example
 * ```ts
 * import { metadataJson } from "./inspect.ts";
 * import assert from "node:assert/strict";
 * const entry = { key: "k", type: 6 as const, value: Math.fround(0.1), offset: 0 };
 * assert.equal(metadataJson(entry), 0.1);
 * ```
 */
export function metadataJson(entry: GgufMetadataEntry): PlainJson {
  return valueJson(entry.type, entry.value);
}

/**
 * The values of chosen metadata keys as one JSON object `{key: value}` (see
 * {@linkcode metadataJson}), in the order asked.
 *
 * @param metadata A header's or model's metadata.
 * @param keys The keys to print.
 * @returns The object.
 * @throws {GgufError} `NOT_FOUND` for a key the file does not have (naming similar keys).
 *
 * @example
 * ```ts
 * import { selectMetadata } from "./inspect.ts";
 * import assert from "node:assert/strict";
 * const metadata = new Map([["general.name", { key: "general.name", type: 8 as const, value: "x", offset: 0 }]]);
 * assert.deepEqual(selectMetadata(metadata, ["general.name"]), { "general.name": "x" });
 * assert.throws(() => selectMetadata(metadata, ["name"]), { code: "NOT_FOUND" });
 * ```
 */
export function selectMetadata(
  metadata: ReadonlyMap<string, GgufMetadataEntry>,
  keys: readonly string[],
): Record<string, PlainJson> {
  const out: Record<string, PlainJson> = {};
  for (const key of keys) {
    const entry = metadata.get(key);
    if (entry === undefined) {
      const similar = similarNames(key, metadata.keys());
      throw new GgufError(
        "NOT_FOUND",
        `No metadata key "${key}" in the model (${metadata.size} keys${
          similar.length > 0 ? `; did you mean ${similar.map((k) => `"${k}"`).join(", ")}?` : ""
        })`,
      );
    }
    out[key] = metadataJson(entry);
  }
  return out;
}

/** One element of an array preview. */
function elementText(type: number, value: unknown): string {
  if (type === GgufValueType.ARRAY) {
    const array = value as GgufArray;
    return `[${GGUF_VALUE_TYPE_NAMES[array.elementType]} x ${formatInteger(array.values.length)}]`;
  }
  if (type === GgufValueType.STRING) {
    const text = quoteText(value as string);
    return text.length > 40 ? text.slice(0, 38) + '…"' : text;
  }
  if (type === GgufValueType.FLOAT32) return float32Text(value as number);
  return String(value);
}

/**
 * A one-line preview of a metadata value: a scalar as JSON (a FLOAT32 as its shortest
 * decimal), an array as its element type and length followed by its first elements, as
 * gguf-dump shows them: `[STRING x 32_000] ["<unk>", "<s>", "</s>", …]`.
 *
 * @param type The value's type id.
 * @param value The value.
 * @param width Roughly how many characters of elements to show (default 60).
 * @returns The preview.
 *
 * @example
 * ```ts
 * import { previewValue } from "./inspect.ts";
 * import assert from "node:assert/strict";
 * const tokens = { elementType: 8 as const, values: ["<unk>", "<s>", "</s>", "a", "b"] };
 * assert.equal(previewValue(9, tokens, 24), '[STRING x 5] ["<unk>", "<s>", "</s>", …]');
 * assert.equal(previewValue(6, Math.fround(0.1)), "0.1");
 * ```
 */
export function previewValue(type: number, value: GgufValue, width = 60): string {
  if (type !== GgufValueType.ARRAY) {
    if (type === GgufValueType.FLOAT32) return float32Text(value as number);
    if (typeof value === "bigint") return value.toString();
    if (typeof value !== "string") return JSON.stringify(value);
    const text = quoteText(value);
    return text.length > width ? text.slice(0, width - 2) + '…"' : text;
  }
  const array = value as GgufArray;
  const values = array.values as ArrayLike<unknown>;
  const shown: string[] = [];
  let used = 0;
  for (let i = 0; i < values.length; i++) {
    const text = elementText(array.elementType, values[i]);
    if (shown.length > 0 && used + text.length + 2 > width) break;
    shown.push(text);
    used += text.length + 2;
  }
  const more = shown.length < values.length ? ", …" : "";
  return `[${GGUF_VALUE_TYPE_NAMES[array.elementType]} x ${formatInteger(values.length)}] [${
    shown.join(", ")
  }${more}]`;
}

/**
 * A parameter count the way model cards give it: `1.24 B`, `137 M`, `7.6 K`, or exact
 * below a thousand.
 *
 * @param count The number of parameters.
 * @returns The short form with its unit.
 *
 * @example
 * ```ts
 * import { formatParameters } from "./inspect.ts";
 * import assert from "node:assert/strict";
 * assert.equal(formatParameters(1_235_814_400), "1.24 B");
 * assert.equal(formatParameters(136_700_000), "137 M");
 * assert.equal(formatParameters(512), "512");
 * ```
 */
export function formatParameters(count: number): string {
  const units: [number, string][] = [[1e12, "T"], [1e9, "B"], [1e6, "M"], [1e3, "K"]];
  for (const [scale, unit] of units) {
    if (count >= scale) return `${Number((count / scale).toPrecision(3))} ${unit}`;
  }
  return String(count);
}

/**
 * The `model:` line of `--plan`: architecture and name, file type, parameter count.
 *
 * @param file A header or an opened model.
 * @returns E.g. `model: llama "TinyLlama", MOSTLY_Q4_K_M (general.file_type 15), 1.1 B params (1_100_048_384)`.
 *
 * @example
 * ```ts
 * import { modelLine } from "./inspect.ts";
 * import assert from "node:assert/strict";
 * assert.equal(modelLine({ metadata: new Map(), tensors: [] }), "model: 0 params");
 * ```
 */
export function modelLine(file: ModelInfoInput): string {
  let info;
  try {
    info = modelInfo(file);
  } catch {
    // A mistyped well-known key is shown as it is in the metadata listing.
    info = undefined;
  }
  const parts: string[] = [];
  if (info?.architecture !== undefined || info?.name !== undefined) {
    parts.push(
      [
        info.architecture === undefined ? undefined : escapeText(info.architecture),
        info.name === undefined ? undefined : quoteText(info.name),
      ]
        .filter((p) => p !== undefined).join(" "),
    );
  }
  if (info?.fileType !== undefined) {
    parts.push(`${info.fileTypeName ?? "unknown file type"} (general.file_type ${info.fileType})`);
  }
  let parameters = 0;
  for (const tensor of file.tensors) parameters += tensor.elements;
  parts.push(
    parameters < 1000
      ? `${parameters} params`
      : `${formatParameters(parameters)} params (${formatInteger(parameters)})`,
  );
  return `model: ${parts.join(", ")}`;
}
