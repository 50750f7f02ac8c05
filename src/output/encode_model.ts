/**
 * The converted model as a sequence of byte chunks: a GGUF v3 header computed up front
 * from the plan, then each tensor's output data, read and converted a bounded chunk at a
 * time. File output and stream output both consume this.
 *
 * @module
 */
import { readBlockChunks } from "../convert/tensor_chunks.ts";
import { checkChunkBytes } from "./memory.ts";
import { type EncodedGgufHeader, encodeGgufHeader } from "./encode_header.ts";
import { dequantizerOf } from "../convert/kernels.ts";
import { GgufError } from "../model/errors.ts";
import { ggmlType } from "../model/ggml_type.ts";
import type { GgufModel } from "../open/open_model.ts";
import type { TensorPlan } from "../convert/plan.ts";

/** Options for {@linkcode encodeConverted}. */
export interface EncodeConvertedOptions {
  /** Input bytes read per step (default 1 MiB). */
  chunkBytes?: number;
  /**
   * Reuse two buffers for every chunk (default `true`): each chunk is valid only until
   * the next is requested. Set `false` when chunks are kept (e.g. enqueued in a stream).
   */
  reuseBuffers?: boolean;
  /** Stops the encoding between chunks with the signal's reason. */
  signal?: AbortSignal;
}

/** Float32 output produced per step, at most (and at most 4 × `chunkBytes`). */
const OUTPUT_CHUNK_BYTES = 4 << 20;

/**
 * Computes the converted file's header: the model's metadata, every tensor with its
 * output type and size, the first part's alignment.
 *
 * @param model The model being converted.
 * @param plan Its plan from {@linkcode planConversion}.
 * @returns The header bytes, tensor offsets and the output file's size.
 * @throws {GgufError} `UNSUPPORTED_BYTE_ORDER` when packed or raw bytes of a big-endian
 *   file would be copied into the little-endian output.
 *
 * @example
 * ```ts
 * import { convertedHeader, openGgufModel, planConversion } from "../../mod.ts";
 * import assert from "node:assert/strict";
 * const model = await openGgufModel(new URL("../../samples/tiny-llama.gguf", import.meta.url));
 * const header = convertedHeader(model, planConversion(model));
 * assert.equal(header.offsets.length, 21);
 * await model.close();
 * ```
 */
export function convertedHeader(model: GgufModel, plan: TensorPlan[]): EncodedGgufHeader {
  plan.forEach((entry, i) => {
    const littleEndian = model.parts[model.tensorParts[i]].header.littleEndian;
    if (
      !littleEndian && entry.kind !== "float32" &&
      ggmlType(entry.info.type)!.bytesPerBlock > 1
    ) {
      throw new GgufError(
        "UNSUPPORTED_BYTE_ORDER",
        `Cannot write tensor "${entry.info.name}": its ${entry.info.typeName} bytes are big-endian and the output is little-endian (dequantize it instead)`,
        entry.info.indexOffset,
      );
    }
  });
  return encodeGgufHeader({
    alignment: model.parts[0].header.alignment,
    metadata: model.metadata.values(),
    tensors: plan.map((entry) => ({
      name: entry.info.name,
      shape: entry.info.shape,
      type: entry.outputTypeId,
      nbytes: entry.outputBytes,
    })),
  });
}

/**
 * Yields the converted model's bytes in order: header, then each tensor's data with the
 * padding the alignment asks for. Memory use is bounded by the chunk sizes, whatever the
 * model's size.
 *
 * @param model The model being converted (its sources stay open throughout).
 * @param plan Its plan from {@linkcode planConversion}.
 * @param header The header from {@linkcode convertedHeader}.
 * @param options Chunk size, buffer reuse and an abort signal.
 * @returns An async iterator of chunks whose lengths add up to `header.fileSize`.
 *
 * @example
 * ```ts
 * import { convertedHeader, encodeConverted, openGgufModel, planConversion } from "../../mod.ts";
 * import assert from "node:assert/strict";
 * const model = await openGgufModel(new URL("../../samples/tiny-llama.gguf", import.meta.url));
 * const plan = planConversion(model);
 * const header = convertedHeader(model, plan);
 * let size = 0;
 * for await (const chunk of encodeConverted(model, plan, header)) size += chunk.length;
 * assert.equal(size, header.fileSize);
 * await model.close();
 * ```
 */
export async function* encodeConverted(
  model: GgufModel,
  plan: TensorPlan[],
  header: EncodedGgufHeader,
  options: EncodeConvertedOptions = {},
): AsyncGenerator<Uint8Array, void, undefined> {
  const chunkBytes = checkChunkBytes(options.chunkBytes);
  const reuse = options.reuseBuffers ?? true;
  const signal = options.signal;
  let input: Uint8Array | undefined;
  let output: Float32Array | undefined;
  const inputBuffer = (size: number) =>
    reuse
      ? (input !== undefined && input.length >= size ? input : (input = new Uint8Array(size)))
      : new Uint8Array(size);
  const outputBuffer = (size: number) =>
    reuse
      ? (output !== undefined && output.length >= size ? output : (output = new Float32Array(size)))
      : new Float32Array(size);

  signal?.throwIfAborted();
  yield reuse ? header.bytes : header.bytes.slice();
  let written = header.dataOffset;
  for (const [i, entry] of plan.entries()) {
    const part = model.parts[model.tensorParts[i]];
    const { info } = entry;
    const start = header.dataOffset + header.offsets[i];
    if (start > written) yield new Uint8Array(start - written);
    if (entry.kind === "float32") {
      const traits = ggmlType(info.type)!;
      const perChunk = Math.max(
        1,
        Math.min(
          Math.floor(chunkBytes / traits.bytesPerBlock),
          Math.floor(Math.min(OUTPUT_CHUNK_BYTES, 4 * chunkBytes) / (traits.blockSize * 4)),
        ),
      );
      const chunks = readBlockChunks(
        part.source,
        info,
        traits,
        perChunk,
        () => inputBuffer(perChunk * traits.bytesPerBlock),
      );
      for await (const { src, blocks } of chunks) {
        signal?.throwIfAborted();
        const values = outputBuffer(perChunk * traits.blockSize);
        dequantizerOf(traits)!.kernel(src, values, blocks, part.header.littleEndian);
        yield new Uint8Array(values.buffer, values.byteOffset, blocks * traits.blockSize * 4);
      }
    } else {
      for (let done = 0; done < info.nbytes; done += chunkBytes) {
        signal?.throwIfAborted();
        const length = Math.min(chunkBytes, info.nbytes - done);
        yield await part.source.read(info.fileOffset + done, length, inputBuffer(chunkBytes));
      }
    }
    written = start + entry.outputBytes;
  }
  if (header.fileSize > written) yield new Uint8Array(header.fileSize - written);
}
