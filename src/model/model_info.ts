/**
 * Typed access to the well-known metadata keys of a model: its architecture, name, file
 * type, and the `<arch>.*` hyperparameters llama.cpp reads, plus its parameter count.
 *
 * @module
 */
import { formatInteger, GgufError } from "./errors.ts";
import { fileTypeName } from "./file_type.ts";
import {
  GGUF_VALUE_TYPE_NAMES,
  type GgufArray,
  type GgufMetadataEntry,
  GgufValueType,
  INTEGER_VALUE_TYPES,
  type TensorInfo,
} from "./gguf_file.ts";

/** A model's well-known metadata, typed. A key the file does not have is `undefined`. */
export interface ModelInfo {
  /** `general.architecture`, e.g. `llama`: the prefix of the hyperparameter keys. */
  architecture: string | undefined;
  /** `general.name`. */
  name: string | undefined;
  /** `general.file_type`: what most tensors were quantized to (a `llama_ftype` value). */
  fileType: number | undefined;
  /** The `llama_ftype` name of `fileType`, e.g. `MOSTLY_Q4_K_M`. */
  fileTypeName: string | undefined;
  /** `general.quantization_version`. */
  quantizationVersion: number | undefined;
  /** `<arch>.block_count`: the number of layers. */
  blockCount: number | undefined;
  /** `<arch>.context_length`: the context the model was trained for. */
  contextLength: number | undefined;
  /** `<arch>.embedding_length`: the hidden size. */
  embeddingLength: number | undefined;
  /** `<arch>.feed_forward_length` (an array when it differs per layer). */
  feedForwardLength: number | number[] | undefined;
  /** `<arch>.attention.head_count` (an array when it differs per layer). */
  headCount: number | number[] | undefined;
  /** `<arch>.attention.head_count_kv` (an array when it differs per layer). */
  headCountKv: number | number[] | undefined;
  /** `<arch>.expert_count`: experts of a mixture-of-experts model. */
  expertCount: number | undefined;
  /** `<arch>.expert_used_count`: experts used per token. */
  expertUsedCount: number | undefined;
  /** `<arch>.rope.freq_base`. */
  ropeFreqBase: number | undefined;
  /** `<arch>.attention.layer_norm_rms_epsilon`. */
  rmsNormEpsilon: number | undefined;
  /** `tokenizer.ggml.model`, e.g. `llama` or `gpt2`. */
  tokenizerModel: string | undefined;
  /** `<arch>.vocab_size`, else the length of `tokenizer.ggml.tokens`. */
  vocabSize: number | undefined;
  /** The parameter count: the sum of every tensor's element count. */
  parameters: number;
}

/** What {@linkcode modelInfo} reads: a header from `readGguf`, or an opened model. */
export interface ModelInfoInput {
  /** The metadata entries by key. */
  metadata: ReadonlyMap<string, GgufMetadataEntry>;
  /** The tensor index. */
  tensors: readonly TensorInfo[];
}

function badType(key: string, expected: string, entry: GgufMetadataEntry): GgufError {
  const found = entry.type === GgufValueType.ARRAY
    ? `an array of ${GGUF_VALUE_TYPE_NAMES[(entry.value as GgufArray).elementType]}`
    : GGUF_VALUE_TYPE_NAMES[entry.type];
  return new GgufError(
    "BAD_METADATA",
    `Cannot read ${key}: expected ${expected}, found ${found}`,
    entry.offset,
  );
}

function safeInteger(key: string, value: number | bigint, entry: GgufMetadataEntry): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 0) {
    throw new GgufError(
      "BAD_METADATA",
      `Cannot read ${key}: expected a count, found ${formatInteger(value)}`,
      entry.offset,
    );
  }
  return number;
}

/**
 * Reads a model's well-known metadata keys as typed values, checking each one's type.
 *
 * @param file A header from `readGguf`, or a model from `openGgufModel`.
 * @returns The typed values; keys the file does not have are `undefined`.
 * @throws {GgufError} `BAD_METADATA` when a well-known key holds the wrong type (a string
 *   where a count belongs, a negative count).
 *
 * @example
 * ```ts
 * import { modelInfo, readGguf } from "gguf-stream";
 * import assert from "node:assert/strict";
 * const header = await readGguf(new URL("../../samples/tiny-llama.gguf", import.meta.url));
 * const info = modelInfo(header);
 * assert.equal(info.architecture, "llama");
 * assert.equal(typeof info.blockCount, "number");
 * assert.ok(info.parameters > 0);
 * ```
 */
export function modelInfo(file: ModelInfoInput): ModelInfo {
  const entryOf = (key: string) => file.metadata.get(key);
  const string = (key: string): string | undefined => {
    const entry = entryOf(key);
    if (entry === undefined) return undefined;
    if (entry.type !== GgufValueType.STRING) throw badType(key, "a STRING", entry);
    return entry.value as string;
  };
  const count = (key: string): number | undefined => {
    const entry = entryOf(key);
    if (entry === undefined) return undefined;
    if (!INTEGER_VALUE_TYPES.has(entry.type)) throw badType(key, "an integer", entry);
    return safeInteger(key, entry.value as number | bigint, entry);
  };
  const float = (key: string): number | undefined => {
    const entry = entryOf(key);
    if (entry === undefined) return undefined;
    if (entry.type !== GgufValueType.FLOAT32 && entry.type !== GgufValueType.FLOAT64) {
      throw badType(key, "a FLOAT32 or FLOAT64", entry);
    }
    return entry.value as number;
  };
  /** A count, or one count per layer. */
  const counts = (key: string): number | number[] | undefined => {
    const entry = entryOf(key);
    if (entry?.type !== GgufValueType.ARRAY) return count(key);
    const array = entry.value as GgufArray;
    if (!INTEGER_VALUE_TYPES.has(array.elementType)) throw badType(key, "integers", entry);
    return Array.from(
      array.values as ArrayLike<number | bigint>,
      (v) => safeInteger(key, v, entry),
    );
  };

  const architecture = string("general.architecture");
  const arch = architecture ?? "";
  const fileType = count("general.file_type");
  let parameters = 0;
  for (const tensor of file.tensors) parameters += tensor.elements;
  const tokens = entryOf("tokenizer.ggml.tokens");
  const tokenCount = tokens?.type === GgufValueType.ARRAY
    ? (tokens.value as GgufArray).values.length
    : undefined;
  return {
    architecture,
    name: string("general.name"),
    fileType,
    fileTypeName: fileType === undefined ? undefined : fileTypeName(fileType),
    quantizationVersion: count("general.quantization_version"),
    blockCount: count(`${arch}.block_count`),
    contextLength: count(`${arch}.context_length`),
    embeddingLength: count(`${arch}.embedding_length`),
    feedForwardLength: counts(`${arch}.feed_forward_length`),
    headCount: counts(`${arch}.attention.head_count`),
    headCountKv: counts(`${arch}.attention.head_count_kv`),
    expertCount: count(`${arch}.expert_count`),
    expertUsedCount: count(`${arch}.expert_used_count`),
    ropeFreqBase: float(`${arch}.rope.freq_base`),
    rmsNormEpsilon: float(`${arch}.attention.layer_norm_rms_epsilon`),
    tokenizerModel: string("tokenizer.ggml.model"),
    vocabSize: count(`${arch}.vocab_size`) ?? tokenCount,
    parameters,
  };
}
