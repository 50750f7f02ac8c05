/// <reference lib="esnext.disposable" preserve="true" />
/**
 * In-memory conversion: every tensor of a model as a zero-copy view, kept bytes, float32
 * values or requantized blocks, one tensor at a time, each written straight into its
 * final buffer by the one chunk loop.
 *
 * @module
 */
import type { ByteSource } from "../model/byte_source.ts";
import type { ConversionSummary, ConvertedTensor, TensorPlan } from "../model/conversion.ts";
import type { GgufFile, GgufMetadataEntry } from "../model/gguf_file.ts";
import type { GgufModel } from "../model/gguf_model.ts";
import {
  conversionSummary,
  CONVERT_OPTION_KEYS,
  type ConvertOptions,
  exactPlan,
  prepareMeasuredConversion,
} from "../convert/prepare.ts";
import { addTensorSums, type ConversionSums } from "../convert/convert_range.ts";
import { type ChunkScratch, convertTensorChunks } from "../convert/tensor_chunks.ts";
import { ConvertThreads } from "../convert/convert_threads.ts";
import { WorkerTensors } from "./worker_tensors.ts";
import { abortedError } from "../model/errors.ts";
import { checkOptionKeys, type OptionKeys } from "../model/option_keys.ts";
import {
  OPEN_MODEL_OPTION_KEYS,
  openGgufModel,
  type OpenModelOptions,
} from "../open/open_model.ts";
import type { GgufInput } from "../open/resolve_input.ts";
import { nextTurn, PLATFORM } from "../runtime/current.ts";

/** Options for {@linkcode convertGguf} and {@linkcode convertTensors}. */
export interface ConvertInputOptions extends ConvertOptions, OpenModelOptions {}

/** Every key of {@linkcode ConvertInputOptions}, for option checks. */
const CONVERT_INPUT_OPTION_KEYS: OptionKeys<ConvertInputOptions> = {
  ...CONVERT_OPTION_KEYS,
  ...OPEN_MODEL_OPTION_KEYS,
};

/** A converted model held in memory. */
export interface ConvertedModel {
  /** The parsed header (of the first part, for a split model). */
  header: GgufFile;
  /** The metadata in file order (without `split.*` keys for a split model). */
  metadata: Map<string, GgufMetadataEntry>;
  /** Every tensor by name, in file order; each carries its own type. */
  tensors: Map<string, ConvertedTensor>;
  /**
   * Releases what zero-copy tensors read: on Deno, a mapping of the input, whose views read
   * zeros afterwards. Until then (or until the process exits) every view stays valid. A
   * no-op where no view depends on it (Bun unmaps when the last view is collected; copies
   * own their memory).
   */
  close(): Promise<void>;
  /** `await using model = await convertGguf(…)` closes it at the end of the block. */
  [Symbol.asyncDispose](): Promise<void>;
  /** Bits per weight in and out, and the relative error measured on the output. */
  summary: ConversionSummary;
}

/** The fields of a converted tensor that do not depend on its data. */
function tensorBase(entry: TensorPlan, littleEndian: boolean) {
  const { info } = entry;
  return {
    name: info.name,
    shape: info.shape.slice(),
    rowMajorShape: info.shape.slice().reverse(),
    info,
    action: entry.action,
    type: entry.type,
    littleEndian: entry.typeName === "F32" ? true : littleEndian,
  };
}

/** A converted tensor over its output bytes (a whole ordinary buffer of its own). */
function convertedFrom(
  entry: TensorPlan,
  littleEndian: boolean,
  bytes: Uint8Array,
): ConvertedTensor {
  const base = tensorBase(entry, littleEndian);
  if (entry.typeName === "F32") {
    const data = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    return { ...base, typeName: "F32", data, zeroCopy: false };
  }
  return {
    ...base,
    typeName: entry.typeName as Exclude<typeof entry.typeName, "F32">,
    data: bytes,
    zeroCopy: false,
  };
}

/** Converts one planned tensor: a view where it can be one, else through the chunk loop. */
async function convertOne(
  source: ByteSource,
  littleEndian: boolean,
  entry: TensorPlan,
  chunkBytes: number,
  scratch: ChunkScratch,
  signal: AbortSignal | undefined,
  threads: ConvertThreads,
  viewable: boolean,
  sums: ConversionSums | undefined,
): Promise<ConvertedTensor> {
  const { info } = entry;
  if (viewable && entry.action === "keep" && (entry.typeName !== "F32" || littleEndian)) {
    const base = tensorBase(entry, littleEndian);
    const view = source.view(info.fileOffset, info.nbytes);
    if (view !== undefined && entry.typeName !== "F32") {
      return { ...base, typeName: entry.typeName, data: view, zeroCopy: true };
    }
    if (view !== undefined && view.byteOffset % 4 === 0) {
      const data = new Float32Array(view.buffer, view.byteOffset, info.elements);
      return { ...base, typeName: "F32", data, zeroCopy: true };
    }
  }
  // An ordinary buffer whatever the thread count: the workers' parts pass through shared
  // scratch memory (see convertTensorChunks). Its memory is backed in one call rather than
  // a page fault at a time as the chunks land (not for the buffers workers fill: there,
  // advising from this thread would do their faults here, one after another).
  const into = new Uint8Array(entry.nbytes);
  PLATFORM.prefault?.(into);
  const chunks = convertTensorChunks(source, littleEndian, entry, {
    chunkBytes,
    scratch,
    into,
    signal,
    threads,
    sums,
  });
  for await (const _ of chunks) {
    // Each chunk is already in place.
  }
  return convertedFrom(entry, littleEndian, into);
}

/**
 * Converts the tensors of an open model, in order (the model stays open).
 *
 * @param model An open model.
 * @param options Policy, warnings, chunk size, signal.
 * @returns An async iterator of converted tensors.
 * @throws {GgufError} A tensor the policy refuses or cannot convert; `ABORTED`, with the
 *   signal's reason as its `cause`, when the signal fires.
 *
 * @example
 * ```ts
 * import { convertModelTensors } from "gguf-stream/pipeline";
 * import { openGgufModel } from "gguf-stream/sources";
 * import assert from "node:assert/strict";
 * const model = await openGgufModel(new URL("../../samples/tiny-llama.gguf", import.meta.url));
 * let count = 0;
 * for await (const _ of convertModelTensors(model)) count++;
 * assert.equal(count, 21);
 * await model.close();
 * ```
 */
export function convertModelTensors(
  model: GgufModel,
  options: ConvertOptions = {},
): AsyncGenerator<ConvertedTensor, void, undefined> {
  return convertEach(model, options, true);
}

/**
 * The tensors of an open model, converted in order. Views of a source whose views end at
 * its `close()` are given only with `viewsAfterClose` (the caller keeps the model open for
 * as long as they are used); otherwise such tensors are copied.
 */
async function* convertEach(
  model: GgufModel,
  options: ConvertOptions,
  viewsAfterClose: boolean,
  keepsAll = false,
): AsyncGenerator<ConvertedTensor, void, undefined> {
  const conversion = await prepareMeasuredConversion(model, options);
  const { plan } = conversion;
  const scratch: ChunkScratch = {};
  const sums: ConversionSums = { error: 0, reference: 0 };
  // A plan that changes no value has no error to measure.
  const exact = exactPlan(plan);
  const threads = new ConvertThreads(conversion.threads);
  const partOf = (i: number) => model.parts[model.tensorParts[i]];
  const here = (i: number) =>
    convertOne(
      partOf(i).source,
      partOf(i).header.littleEndian,
      plan[i],
      conversion.chunkBytes,
      scratch,
      options.signal,
      threads,
      viewsAfterClose || partOf(i).source.viewsEndAtClose !== true,
      exact ? undefined : sums,
    );
  // A caller that keeps every tensor lets workers convert whole tensors of their own.
  const workers = keepsAll && threads.parallel
    ? new WorkerTensors(
      plan,
      (i) => ({ source: partOf(i).source, littleEndian: partOf(i).header.littleEndian }),
      threads,
      (entry, bytes, littleEndian) => convertedFrom(entry, littleEndian, bytes),
      !exact,
      options.signal,
    )
    : undefined;
  /** Tensors this thread converted before their turn, while a worker's was not done. */
  const early = new Map<number, ConvertedTensor>();
  try {
    for (let i = 0; i < plan.length; i++) {
      options.signal?.throwIfAborted();
      let tensor = early.get(i);
      early.delete(i);
      if (tensor === undefined && workers?.onWorker(i)) {
        // While a worker converts it, this thread converts the next tensors nobody has
        // taken, letting the workers' answers in between.
        for (
          let k = workers.claimNext(i);
          !workers.settled(i) && k !== undefined;
          k = workers.claimNext(i)
        ) {
          early.set(k, await here(k));
          await nextTurn();
          options.signal?.throwIfAborted();
        }
        const result = await workers.result(i);
        if (result !== undefined) {
          tensor = result.tensor;
          if (plan[i].action !== "keep") addTensorSums(sums, plan[i].info.name, result.sums);
        }
      } else if (tensor === undefined) workers?.claim(i);
      yield tensor ?? await here(i);
    }
    options.onSummary?.(conversionSummary(plan, sums));
  } catch (error) {
    throw abortedError(error, options.signal);
  } finally {
    threads.close();
    await workers?.close();
  }
}

/**
 * Converts a model's tensors one at a time, in file order, so a caller can upload each
 * (to a GPU, a worker) and drop it before the next is made. The plan is checked before
 * the first tensor is yielded. A split model is read across its parts when `input`
 * names the first. Leaving the loop early closes the model.
 *
 * @param input A path, `file:` URL, `http(s):` URL (fetched in one request unless
 *   `remote: "range"`), `ByteSource`, the file's bytes, a `Blob` or a stream.
 * @param options Policy, warnings, chunk size, parse and access options, signal.
 * @returns An async iterator of converted tensors.
 * @throws {GgufError} For an invalid file, or a tensor the policy refuses or cannot convert;
 *   `ABORTED`, with the signal's reason as its `cause`, when the signal fires.
 *
 * @example Uploading tensor by tensor
 * ```ts
 * import { convertTensors } from "gguf-stream";
 * import assert from "node:assert/strict";
 * const sample = new URL("../../samples/tiny-llama.gguf", import.meta.url);
 * let floats = 0;
 * for await (const tensor of convertTensors(sample)) {
 *   if (tensor.typeName === "F32") floats += tensor.data.length; // upload it, then let it go
 * }
 * assert.equal(floats, 1_443_072); // every tensor but the Q4_0 embedding
 * ```
 */
export async function* convertTensors(
  input: GgufInput,
  options: ConvertInputOptions = {},
): AsyncGenerator<ConvertedTensor, void, undefined> {
  checkOptionKeys(options, CONVERT_INPUT_OPTION_KEYS, "convertTensors()");
  const model = await openGgufModel(input, { ...options, remote: options.remote ?? "stream" });
  try {
    // The model is closed when the loop ends: no tensor may depend on it staying open.
    yield* convertEach(model, options, false);
  } finally {
    await model.close();
  }
}

/**
 * Converts a whole model into memory under the policy: target types (default Q4_0, Q8_0,
 * F32) stay as they are (zero-copy views of a mapping), every other type with a kernel
 * becomes F32 (or Q8_0/Q4_0 with `requantize`), types without a kernel are kept with a
 * warning. A split model is read across its parts when `input` names the first.
 *
 * Shapes are in ggml order (`shape[0]` is the row length); `rowMajorShape` has them
 * reversed for JS tensor libraries.
 *
 * @param input A path, `file:` URL, `http(s):` URL (fetched in one request unless
 *   `remote: "range"`), `ByteSource`, the file's bytes, a `Blob` or a stream.
 * @param options Policy, warnings, chunk size, parse and access options, signal.
 * @returns The header, the metadata and every tensor by name; `close()` it when done with
 *   its zero-copy tensors (on Deno they read a mapping that lives until then).
 * @throws {GgufError} For an invalid file, or a tensor the policy refuses or cannot convert;
 *   `ABORTED`, with the signal's reason as its `cause`, when the signal fires.
 *
 * @example
 * ```ts
 * import { convertGguf } from "gguf-stream";
 * import assert from "node:assert/strict";
 * const sample = new URL("../../samples/tiny-llama.gguf", import.meta.url);
 * const model = await convertGguf(sample, { policy: { requantize: "Q8_0" } });
 * const tensor = model.tensors.get("blk.0.attn_q.weight")!;
 * assert.equal(tensor.info.typeName, "Q4_K");
 * assert.equal(tensor.typeName, "Q8_0");
 * await model.close(); // releases the mapping its zero-copy tensors read (Deno)
 * ```
 */
export async function convertGguf(
  input: GgufInput,
  options: ConvertInputOptions = {},
): Promise<ConvertedModel> {
  checkOptionKeys(options, CONVERT_INPUT_OPTION_KEYS, "convertGguf()");
  const model = await openGgufModel(input, { ...options, remote: options.remote ?? "stream" });
  /** Whether the result keeps the model open (set only once the result is made). */
  let keepOpen = false;
  try {
    let viewsOfMapping = false;
    const tensors = new Map<string, ConvertedTensor>();
    let summary: ConversionSummary | undefined;
    const onSummary = (value: ConversionSummary) => {
      summary = value;
      options.onSummary?.(value);
    };
    for await (const tensor of convertEach(model, { ...options, onSummary }, true, true)) {
      tensors.set(tensor.name, tensor);
      if (tensor.zeroCopy && model.parts.some((part) => part.source.viewsEndAtClose === true)) {
        viewsOfMapping = true;
      }
    }
    // Views of a mapping that ends at close() keep the model open until the result closes;
    // a failure before the result is made closes it, as no one else can.
    keepOpen = viewsOfMapping;
    const close = keepOpen ? () => model.close() : () => Promise.resolve();
    const result: ConvertedModel = {
      header: model.parts[0].header,
      metadata: model.metadata,
      tensors,
      close,
      [Symbol.asyncDispose]: () => result.close(),
      summary: summary!,
    };
    return result;
  } finally {
    if (!keepOpen) await model.close();
  }
}
