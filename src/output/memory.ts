/**
 * In-memory conversion: every tensor of a model to a packed view, float32 values or
 * raw bytes, one tensor at a time, reading a bounded chunk at a time.
 *
 * @module
 */
import { readBlockChunks } from "../convert/tensor_chunks.ts";
import type { ConvertedTensor, Float32Tensor } from "../model/converted_tensor.ts";
import { dequantizerOf } from "../convert/kernels.ts";
import { GgufError } from "../model/errors.ts";
import { ggmlType, type GgmlTypeTraits } from "../model/ggml_type.ts";
import type { ParseOptions } from "../parse/parse_header.ts";
import {
  fallbackWarnings,
  planConversion,
  printWarning,
  type TensorPlan,
} from "../convert/plan.ts";
import { type GgufModel, openGgufModel } from "../open/open_model.ts";
import type { GgufInput } from "../open/read_gguf.ts";
import type { ByteSource } from "../model/byte_source.ts";
import type { OpenOptions } from "../source/open_source.ts";
import type { ConversionPolicy } from "../convert/policy.ts";
import type { GgufFile, GgufMetadataEntry } from "../model/gguf_file.ts";

/** Options for {@linkcode convertGguf} and {@linkcode convertTensors}. */
export interface ConvertOptions extends ParseOptions, OpenOptions {
  /** Changes to the default strategies. */
  policy?: ConversionPolicy;
  /**
   * Receives one message per type passed through because no rule covers it.
   * Default: print to stderr.
   */
  onWarning?: (message: string) => void;
  /** Bytes read per step when dequantizing from a source that cannot map (default 1 MiB). */
  chunkBytes?: number;
}

/** A converted model held in memory. */
export interface ConvertedModel {
  /** The parsed header (of the first part, for a split model). */
  header: GgufFile;
  /** The metadata in file order (without `split.*` keys for a split model). */
  metadata: Map<string, GgufMetadataEntry>;
  /** Every tensor by name, in file order; each carries its own kind and type. */
  tensors: Map<string, ConvertedTensor>;
}

/** Default read size when dequantizing from positional reads. */
export const DEFAULT_CHUNK_BYTES = 1 << 20;

/** Reads whole blocks of one tensor chunk by chunk and runs the kernel into `out`. */
async function dequantizeInto(
  source: ByteSource,
  plan: TensorPlan,
  traits: GgmlTypeTraits,
  littleEndian: boolean,
  out: Float32Array,
  chunkBytes: number,
  scratch: { buffer?: Uint8Array },
): Promise<void> {
  const { info } = plan;
  const totalBlocks = info.elements / traits.blockSize;
  if (source.kind === "bytes") {
    // Already in memory: no chunking needed.
    dequantizerOf(traits)!.kernel(
      source.view(info.fileOffset, info.nbytes)!,
      out,
      totalBlocks,
      littleEndian,
    );
    return;
  }
  const blocksPerChunk = Math.max(1, Math.floor(chunkBytes / traits.bytesPerBlock));
  const need = Math.min(totalBlocks, blocksPerChunk) * traits.bytesPerBlock;
  if (scratch.buffer === undefined || scratch.buffer.length < need) {
    scratch.buffer = new Uint8Array(Math.max(need, chunkBytes));
  }
  const buffer = scratch.buffer;
  for await (
    const { src, firstBlock, blocks } of readBlockChunks(
      source,
      plan.info,
      traits,
      blocksPerChunk,
      () => buffer,
    )
  ) {
    dequantizerOf(traits)!.kernel(
      src,
      out.subarray(firstBlock * traits.blockSize),
      blocks,
      littleEndian,
    );
  }
}

/** Converts one planned tensor. */
async function convertOne(
  source: ByteSource,
  littleEndian: boolean,
  plan: TensorPlan,
  chunkBytes: number,
  scratch: { buffer?: Uint8Array },
): Promise<ConvertedTensor> {
  const { info, strategy } = plan;
  const base = {
    name: info.name,
    shape: info.shape.slice(),
    rowMajorShape: info.shape.slice().reverse(),
    sourceType: info.typeName,
    strategy,
    info,
    littleEndian,
  };
  if (plan.kind === "float32") {
    const traits = ggmlType(info.type)!;
    if (strategy !== "dequantize" && littleEndian) {
      const view = source.view(info.fileOffset, info.nbytes);
      if (view !== undefined && view.byteOffset % 4 === 0) {
        const data = new Float32Array(view.buffer, view.byteOffset, info.elements);
        return {
          ...base,
          kind: "float32",
          type: "F32",
          data,
          zeroCopy: true,
        } satisfies Float32Tensor;
      }
    }
    const data = new Float32Array(info.elements);
    await dequantizeInto(source, plan, traits, littleEndian, data, chunkBytes, scratch);
    return { ...base, kind: "float32", type: "F32", data, zeroCopy: false };
  }
  const view = source.view(info.fileOffset, info.nbytes);
  const data = view ?? await source.read(info.fileOffset, info.nbytes);
  return { ...base, kind: plan.kind, type: info.typeName, data, zeroCopy: view !== undefined };
}

/**
 * Converts a model's tensors one at a time, in file order, so a caller can upload each
 * (to a GPU, a worker) and drop it before the next is made. The plan is checked before
 * the first tensor is yielded. A split model is read across its parts when `input`
 * names the first.
 *
 * @param input A path, `file:` URL, {@linkcode ByteSource} or the file's bytes.
 * @param options Policy, warnings, chunk size, parse and access options.
 * @returns An async iterator of converted tensors.
 * @throws {GgufError} For an invalid file, or a tensor the policy refuses or cannot convert.
 *
 * @example Uploading tensor by tensor
 * ```ts
 * import { convertTensors } from "../../mod.ts";
 * import assert from "node:assert/strict";
 * const sample = new URL("../../samples/tiny-llama.gguf", import.meta.url);
 * let floats = 0;
 * for await (const tensor of convertTensors(sample)) {
 *   if (tensor.kind === "float32") floats += tensor.data.length; // upload it, then let it go
 * }
 * assert.equal(floats, 1_443_072); // every tensor but the Q4_0 embedding
 * ```
 */
export async function* convertTensors(
  input: GgufInput,
  options: ConvertOptions = {},
): AsyncGenerator<ConvertedTensor, void, undefined> {
  const model = await openGgufModel(input, options);
  try {
    yield* convertModelTensors(model, options);
  } finally {
    await model.close();
  }
}

/** Converts the tensors of an open model, in order. */
export async function* convertModelTensors(
  model: GgufModel,
  options: ConvertOptions = {},
): AsyncGenerator<ConvertedTensor, void, undefined> {
  const chunkBytes = checkChunkBytes(options.chunkBytes);
  const plan = planConversion(model, options.policy);
  for (const message of fallbackWarnings(plan)) (options.onWarning ?? printWarning)(message);
  const scratch: { buffer?: Uint8Array } = {};
  for (const [i, entry] of plan.entries()) {
    const part = model.parts[model.tensorParts[i]];
    yield await convertOne(part.source, part.header.littleEndian, entry, chunkBytes, scratch);
  }
}

/** Checks the `chunkBytes` option; a bad value is the caller's error. */
export function checkChunkBytes(chunkBytes: number | undefined): number {
  const value = chunkBytes ?? DEFAULT_CHUNK_BYTES;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new TypeError(`chunkBytes must be a positive integer, got ${value}`);
  }
  return value;
}

/**
 * Converts a whole model into memory: Q4_0/Q8_0 stay packed (zero-copy views of the
 * mapping), K-quants become float32, F32 passes through, other types pass through with
 * a warning — unless the policy says otherwise. A split model is read across its parts
 * when `input` names the first.
 *
 * Shapes are in ggml order (`shape[0]` is the row length); `rowMajorShape` has them
 * reversed for JS tensor libraries.
 *
 * @param input A path, `file:` URL, {@linkcode ByteSource} or the file's bytes.
 * @param options Policy, warnings, chunk size, parse and access options.
 * @returns The header, the metadata and every tensor by name.
 * @throws {GgufError} For an invalid file, or a tensor the policy refuses or cannot convert.
 *
 * @example
 * ```ts
 * import { convertGguf } from "../../mod.ts";
 * import assert from "node:assert/strict";
 * const bytes = new Uint8Array(24);
 * bytes.set([0x47, 0x47, 0x55, 0x46, 3]);
 * const model = await convertGguf(bytes);
 * assert.equal(model.tensors.size, 0);
 * ```
 */
export async function convertGguf(
  input: GgufInput,
  options: ConvertOptions = {},
): Promise<ConvertedModel> {
  const model = await openGgufModel(input, options);
  try {
    const tensors = new Map<string, ConvertedTensor>();
    for await (const tensor of convertModelTensors(model, options)) {
      tensors.set(tensor.name, tensor);
    }
    return { header: model.parts[0].header, metadata: model.metadata, tensors };
  } finally {
    await model.close();
  }
}

/**
 * Dequantizes chosen rows of a packed or raw tensor on demand — an embedding lookup
 * without the whole table in float32.
 *
 * @param tensor A `packed` or `raw` tensor from a conversion.
 * @param firstRow The first row (a row is `shape[0]` values).
 * @param rowCount How many rows.
 * @param dst Where to write; a new array when omitted.
 * @returns `rowCount × shape[0]` float32 values.
 * @throws {TypeError} For rows outside the tensor or a short `dst`.
 * @throws {GgufError} `UNSUPPORTED_TYPE` when the type has no kernel; `BAD_BLOCK_SIZE`
 *   when rows are not whole blocks.
 *
 * @example An embedding lookup
 * ```ts
 * import { convertGguf, dequantizeRows } from "../../mod.ts";
 * import assert from "node:assert/strict";
 * const model = await convertGguf(new URL("../../samples/tiny-llama.gguf", import.meta.url));
 * const embeddings = model.tensors.get("token_embd.weight")!;
 * assert.equal(embeddings.kind, "packed"); // Q4_0 stays packed
 * const row = dequantizeRows(embeddings, 7, 1); // token 7 only
 * assert.equal(row.length, embeddings.shape[0]);
 * ```
 */
export function dequantizeRows(
  tensor: ConvertedTensor,
  firstRow: number,
  rowCount: number,
  dst?: Float32Array,
): Float32Array {
  const rowLength = tensor.shape[0];
  const rows = tensor.info.elements / rowLength;
  if (
    !Number.isSafeInteger(firstRow) || !Number.isSafeInteger(rowCount) || firstRow < 0 ||
    rowCount < 0 || firstRow + rowCount > rows
  ) {
    throw new TypeError(
      `Rows ${firstRow}..${firstRow + rowCount} are outside tensor "${tensor.name}" (${rows} rows)`,
    );
  }
  const count = rowCount * rowLength;
  const out = dst ?? new Float32Array(count);
  if (out.length < count) throw new TypeError(`dst holds ${out.length} values, ${count} needed`);
  if (tensor.kind === "float32") {
    out.set(tensor.data.subarray(firstRow * rowLength, firstRow * rowLength + count));
    return out.subarray(0, count);
  }
  const traits = ggmlType(tensor.info.type)!;
  const dequantizer = dequantizerOf(traits);
  if (dequantizer === undefined) {
    throw new GgufError("UNSUPPORTED_TYPE", `Cannot dequantize rows of ${traits.name}: no kernel`);
  }
  if (!tensor.littleEndian && !dequantizer.endianAware) {
    throw new GgufError(
      "UNSUPPORTED_BYTE_ORDER",
      `Cannot dequantize rows of "${tensor.name}": ${traits.name} blocks in a big-endian file are not supported`,
    );
  }
  if (rowLength % traits.blockSize !== 0) {
    throw new GgufError(
      "BAD_BLOCK_SIZE",
      `Cannot dequantize rows of "${tensor.name}": its rows are not whole ${traits.name} blocks`,
    );
  }
  const rowBytes = (rowLength / traits.blockSize) * traits.bytesPerBlock;
  const src = tensor.data.subarray(firstRow * rowBytes, (firstRow + rowCount) * rowBytes);
  dequantizer.kernel(src, out, count / traits.blockSize, tensor.littleEndian);
  return out.subarray(0, count);
}
