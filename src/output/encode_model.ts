/**
 * The converted model as a sequence of byte chunks: the GGUF v3 header computed up front,
 * then each tensor's output from the one chunk loop, with the padding the alignment asks
 * for. File output and stream output both consume this.
 *
 * @module
 */
import type { GgufModel } from "../model/gguf_model.ts";
import { exactPlan, type PreparedConversion } from "../convert/prepare.ts";
import { type ChunkScratch, convertTensorChunks } from "../convert/tensor_chunks.ts";
import { ConvertThreads } from "../convert/convert_threads.ts";
import type { ConversionSums } from "../convert/convert_range.ts";

/** Options for {@linkcode encodeConverted}. */
export interface EncodeOptions {
  /** Stops the encoding between chunks with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Keep each chunk valid until the second chunk after it is asked for (two sets of step
   * buffers), so that one can be written out while the next is made. Default: valid until
   * the next is asked for.
   */
  alternate?: boolean;
  /** Σ(out − x)² and Σx² over the converted weights are added to these, as they are made. */
  sums?: ConversionSums;
  /**
   * At most this many bytes of float32 values per step, and of kept bytes per chunk
   * (default: the converter's own, up to 4 MiB): smaller chunks for a sink that takes
   * them best (see `ByteSink.chunkBytes`).
   */
  stepBytes?: number;
}

/**
 * Yields the converted model's bytes in order: header, then each tensor's data padded as
 * the alignment asks. Chunks are views of reused buffers, valid until the next is asked
 * for (with `alternate`, until the second after it). Memory use is bounded by the chunk
 * sizes, whatever the model's size. The conversion's worker threads start when first
 * needed and stop when the iteration ends.
 *
 * @param model The model being converted (its sources stay open throughout).
 * @param conversion From `prepareConversion(model, options, true)` (with its header).
 * @param options An abort signal; `alternate` to keep each chunk valid a step longer.
 * @returns An async iterator of chunks whose lengths add up to `header.fileSize`.
 *
 * @example
 * ```ts
 * import { encodeConverted, prepareConversion } from "gguf-stream/pipeline";
 * import { openGgufModel } from "gguf-stream/sources";
 * import assert from "node:assert/strict";
 * const model = await openGgufModel(new URL("../../samples/tiny-llama.gguf", import.meta.url));
 * const conversion = prepareConversion(model, {}, true);
 * let size = 0;
 * for await (const chunk of encodeConverted(model, conversion)) size += chunk.length;
 * assert.equal(size, conversion.header!.fileSize);
 * await model.close();
 * ```
 */
export async function* encodeConverted(
  model: GgufModel,
  conversion: PreparedConversion,
  options: EncodeOptions = {},
): AsyncGenerator<Uint8Array, void, undefined> {
  const { plan, header, chunkBytes } = conversion;
  if (header === undefined) throw new TypeError("The conversion was prepared without a header");
  const { signal } = options;
  const scratch: ChunkScratch = {};
  let padding = new Uint8Array(0);
  const zeros = (length: number) =>
    padding.length >= length ? padding.subarray(0, length) : (padding = new Uint8Array(length));

  signal?.throwIfAborted();
  const threads = new ConvertThreads(conversion.threads);
  try {
    // A plan that changes no value has no error to measure.
    const exact = exactPlan(plan);
    yield header.bytes;
    let written = header.dataOffset;
    for (const [i, entry] of plan.entries()) {
      const part = model.parts[model.tensorParts[i]];
      const start = header.dataOffset + header.offsets[i];
      if (start > written) yield zeros(start - written);
      yield* convertTensorChunks(part.source, part.header.littleEndian, entry, {
        chunkBytes,
        scratch,
        signal,
        threads,
        alternate: options.alternate,
        stepBytes: options.stepBytes,
        sums: exact ? undefined : options.sums,
      });
      written = start + entry.nbytes;
    }
    if (header.fileSize > written) yield zeros(header.fileSize - written);
  } finally {
    threads.close();
  }
}
