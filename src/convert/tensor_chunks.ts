/**
 * The one per-tensor chunk loop behind every output: reads a bounded run of a tensor's
 * blocks, converts it as its plan says (copy, dequantize, or dequantize then requantize),
 * and yields the output bytes. In memory, chunks are written straight into the tensor's
 * final buffer; for files and streams, into reused scratch buffers.
 *
 * @module
 */
import type { TensorPlan } from "../model/conversion.ts";
import type { ByteSource } from "../model/byte_source.ts";
import { requireGgmlType } from "../model/ggml_type.ts";
import { dequantizerOf, quantizerOf } from "./kernels.ts";

/** Input bytes read per step unless the caller says otherwise. */
export const DEFAULT_CHUNK_BYTES = 1 << 20;
/** Float32 values produced per step, at most 4 MiB of them. */
const MAX_STEP_FLOAT_BYTES = 4 << 20;
/**
 * Float32 values requantized at a time within a step: the scratch values stay in the
 * core's cache between the dequantizer writing them and the quantizer reading them.
 */
const REQUANT_PASS_ELEMENTS = 1 << 14;
/** Q8_0 and Q4_0 blocks hold 32 values. */
const QUANT_BLOCK = 32;

/** Buffers reused from chunk to chunk and tensor to tensor (grown as needed). */
export interface ChunkScratch {
  /** The bytes read from the source for one step. */
  input?: Uint8Array;
  /** The float32 values one step dequantizes to. */
  floats?: Float32Array;
  /** The encoded output of one step. */
  output?: Uint8Array;
}

/** Options for {@linkcode convertTensorChunks}. */
export interface TensorChunkOptions {
  /** Input bytes read per step (at least one block is always read). */
  chunkBytes: number;
  /** Buffers to reuse; each yielded chunk is then valid only until the next is asked for. */
  scratch: ChunkScratch;
  /**
   * The tensor's whole output (`plan.nbytes` bytes, 4-byte aligned): chunks are written
   * straight into it, and the yielded chunks are views of it.
   */
  into?: Uint8Array;
  /** Checked before every step. */
  signal?: AbortSignal;
}

/**
 * Checks the `chunkBytes` option; a bad value is the caller's error.
 *
 * @param chunkBytes The caller's value, or `undefined` for the default (1 MiB).
 * @returns The value to use.
 * @throws {TypeError} For anything but a positive safe integer.
 *
 * @example
 * ```ts
 * import { checkChunkBytes } from "./tensor_chunks.ts";
 * import assert from "node:assert/strict";
 * assert.equal(checkChunkBytes(undefined), 1 << 20);
 * assert.throws(() => checkChunkBytes(0), TypeError);
 * ```
 */
export function checkChunkBytes(chunkBytes: number | undefined): number {
  const value = chunkBytes ?? DEFAULT_CHUNK_BYTES;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new TypeError(`chunkBytes must be a positive integer, got ${value}`);
  }
  return value;
}

function grow<T extends Uint8Array | Float32Array>(
  buffer: T | undefined,
  length: number,
  make: (length: number) => T,
): T {
  return buffer !== undefined && buffer.length >= length ? buffer : make(length);
}

/**
 * Converts one tensor as its plan says, a bounded run of blocks at a time, yielding the
 * output bytes in order (they add up to `plan.nbytes`).
 *
 * @param source The source holding the tensor's data.
 * @param littleEndian The byte order of the file holding it.
 * @param plan The tensor's plan entry.
 * @param options Chunk size, scratch buffers or the output buffer, and a signal.
 * @returns The output bytes, chunk by chunk.
 *
 * @example Dequantizing the sample's Q4_K tensor into one buffer
 * ```ts
 * import { convertTensorChunks } from "./tensor_chunks.ts";
 * import { openGgufModel, planConversion } from "../../advanced.ts";
 * import assert from "node:assert/strict";
 * const model = await openGgufModel(new URL("../../samples/tiny-llama.gguf", import.meta.url));
 * const entry = planConversion(model).find((p) => p.info.typeName === "Q4_K")!;
 * const into = new Uint8Array(entry.nbytes);
 * let bytes = 0;
 * const chunks = convertTensorChunks(model.parts[0].source, true, entry, {
 *   chunkBytes: 4096,
 *   scratch: {},
 *   into,
 * });
 * for await (const chunk of chunks) bytes += chunk.length;
 * assert.equal(bytes, entry.nbytes);
 * await model.close();
 * ```
 */
export async function* convertTensorChunks(
  source: ByteSource,
  littleEndian: boolean,
  plan: TensorPlan,
  options: TensorChunkOptions,
): AsyncGenerator<Uint8Array, void, undefined> {
  const { info } = plan;
  const { scratch, into, signal } = options;
  const from = requireGgmlType(info.type);
  const to = requireGgmlType(plan.type);
  const readInput = (offset: number, length: number) => {
    if (source.kind === "bytes") return source.read(info.fileOffset + offset, length);
    scratch.input = grow(scratch.input, length, (n) => new Uint8Array(n));
    return source.read(info.fileOffset + offset, length, scratch.input);
  };

  if (plan.typeName !== "F32" && plan.action === "keep") {
    // The bytes as they are.
    for (let done = 0; done < info.nbytes; done += options.chunkBytes) {
      signal?.throwIfAborted();
      const length = Math.min(options.chunkBytes, info.nbytes - done);
      yield into === undefined
        ? await readInput(done, length)
        : await source.read(info.fileOffset + done, length, into.subarray(done, done + length));
    }
    return;
  }

  const dequantize = dequantizerOf(from)!.kernel;
  const quantize = plan.typeName === "F32" ? undefined : quantizerOf(to)!;
  // A step is whole input blocks and, when requantizing, whole output blocks too (block
  // sizes are powers of two, so the larger is a multiple of the smaller).
  const unit = quantize === undefined ? from.blockSize : Math.max(from.blockSize, QUANT_BLOCK);
  const unitsByInput = Math.floor(
    options.chunkBytes / ((unit / from.blockSize) * from.bytesPerBlock),
  );
  const unitsByOutput = Math.floor(MAX_STEP_FLOAT_BYTES / (unit * 4));
  const stepElements = unit * Math.max(1, Math.min(unitsByInput, unitsByOutput));

  // Requantizing dequantizes and quantizes a cache-sized pass of whole units at a time.
  const pass = Math.max(unit, REQUANT_PASS_ELEMENTS - (REQUANT_PASS_ELEMENTS % unit));

  for (let first = 0; first < info.elements; first += stepElements) {
    signal?.throwIfAborted();
    const elements = Math.min(stepElements, info.elements - first);
    const blocks = elements / from.blockSize;
    const src = await readInput(
      (first / from.blockSize) * from.bytesPerBlock,
      blocks * from.bytesPerBlock,
    );
    if (quantize === undefined) {
      const values = into === undefined
        ? (scratch.floats = grow(scratch.floats, stepElements, (n) => new Float32Array(n)))
        : new Float32Array(into.buffer, into.byteOffset + first * 4, elements);
      dequantize(src, values, blocks, littleEndian);
      yield new Uint8Array(values.buffer, values.byteOffset, elements * 4);
    } else {
      const values = scratch.floats = grow(scratch.floats, pass, (n) => new Float32Array(n));
      const outStart = (first / to.blockSize) * to.bytesPerBlock;
      const outBytes = (elements / to.blockSize) * to.bytesPerBlock;
      const out = into === undefined
        ? (scratch.output = grow(
          scratch.output,
          (stepElements / to.blockSize) * to.bytesPerBlock,
          (n) => new Uint8Array(n),
        ))
        : into.subarray(outStart, outStart + outBytes);
      // Dequantize and requantize a cache-sized pass at a time; the output is one chunk.
      for (let done = 0; done < elements; done += pass) {
        const count = Math.min(pass, elements - done);
        const inAt = (done / from.blockSize) * from.bytesPerBlock;
        dequantize(src.subarray(inAt), values, count / from.blockSize, littleEndian);
        const outAt = (done / to.blockSize) * to.bytesPerBlock;
        quantize(values, out.subarray(outAt), count / to.blockSize);
      }
      yield out.subarray(0, outBytes);
    }
  }
}
