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
import { bytesFor, type GgmlTypeTraits, requireGgmlType } from "../model/ggml_type.ts";
import {
  addTensorSums,
  type ConversionSums,
  convertRange,
  type RangeJob,
  type RangeScratch,
  type RangeSums,
} from "./convert_range.ts";
import { simdOutputBuffer } from "./simd/simd_kernels.ts";
import type { ConvertThreads } from "./convert_threads.ts";

/** Input bytes read per step unless the caller says otherwise. */
export const DEFAULT_CHUNK_BYTES = 1 << 20;
/** Float32 values produced per step, at most 4 MiB of them (unless `stepBytes` says less). */
export const MAX_STEP_FLOAT_BYTES = 4 << 20;
/**
 * With threads, into a tensor's own buffer, each thread converts this many steps' worth at
 * a time: fewer, longer parts, so less time is spent waiting for the workers' answers.
 */
const SPLIT_STEPS = 4;
/** Such a step's float32 values, all threads' parts together, stay within 64 MiB... */
const MAX_SPLIT_FLOAT_BYTES = 64 << 20;
/** ...and are read from at most 16 MiB of input (the workers' parts copied to shared memory). */
const MAX_SPLIT_INPUT_BYTES = 16 << 20;
/** Steps smaller than this are not worth a message to a worker. */
const MIN_SPLIT_ELEMENTS = 1 << 14;

/** The least common multiple of two block sizes (powers of two in ggml, but not assumed). */
function commonUnit(a: number, b: number): number {
  let x = a;
  let y = b;
  while (y !== 0) [x, y] = [y, x % y];
  return (a / x) * b;
}

/** Buffers reused from chunk to chunk and tensor to tensor (grown as needed). */
export interface ChunkScratch extends RangeScratch {
  /** The bytes read from the source for one step. */
  input?: Uint8Array;
  /** The output of one step (float32 values or blocks). */
  output?: Uint8Array;
  /** The other step's input (steps alternate between the two). */
  nextInput?: Uint8Array;
  /** The other step's output. */
  nextOutput?: Uint8Array;
  /** Which of the two the last step used. */
  side?: 0 | 1;
  /** Input read for several steps at once (see `stepBytes`); never yielded. */
  ahead?: Uint8Array;
}

/** Options for {@linkcode convertTensorChunks}. */
export interface TensorChunkOptions {
  /** Input bytes read per step (at least one block is always read). */
  chunkBytes: number;
  /** Buffers to reuse; a yielded chunk stays valid until the next is asked for. */
  scratch: ChunkScratch;
  /**
   * Without `into`: alternate between two sets of buffers, so that a chunk stays valid
   * until the second chunk after it is asked for (a consumer may then write one chunk out
   * while the next is made, at the memory of one more step).
   */
  alternate?: boolean;
  /**
   * The tensor's whole output (`plan.nbytes` bytes, 4-byte aligned): chunks are written
   * straight into it, and the yielded chunks are views of it.
   */
  into?: Uint8Array;
  /**
   * At most this many bytes of float32 values per step (default and most
   * {@linkcode MAX_STEP_FLOAT_BYTES}); kept tensors are yielded in chunks of at most this
   * many bytes too. At least one block is always converted.
   */
  stepBytes?: number;
  /** Checked before every step. */
  signal?: AbortSignal;
  /**
   * Worker threads to share each step with. They write into shared memory: `into` itself
   * when it is a view of a `SharedArrayBuffer`, else shared scratch memory whose bytes this
   * thread copies into `into` (so results stay ordinary `ArrayBuffer`s). Transcoding steps
   * are not split: they run at the speed of a copy.
   */
  threads?: ConvertThreads;
  /**
   * Measure the output's error: Σ(out − x)² and Σx² over the converted values are added
   * to these sums once the tensor's last step is made (kept tensors add nothing).
   */
  sums?: ConversionSums;
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

/**
 * The buffer if it is long enough (and shared, when asked for), else a new one: shared, or
 * for float32 values (`simd`) one the SIMD kernels write into in place, where they run.
 */
function grow(
  buffer: Uint8Array | undefined,
  length: number,
  shared: boolean,
  simd = false,
): Uint8Array {
  if (
    buffer !== undefined && buffer.length >= length &&
    (!shared || buffer.buffer instanceof SharedArrayBuffer)
  ) return buffer;
  if (shared) return new Uint8Array(new SharedArrayBuffer(length));
  return simd ? simdOutputBuffer(length) : new Uint8Array(length);
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
 * import { openGgufModel } from "gguf-stream/sources";
 * import { planConversion } from "gguf-stream";
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
  const threads = options.threads?.parallel ? options.threads : undefined;
  const split = threads !== undefined && plan.action !== "keep" && plan.action !== "transcode";
  // Asked to, steps alternate between two sets of buffers, so that a chunk stays valid
  // while the next is made (a file sink writes one while the threads convert the next).
  const flip = () => options.alternate ? (scratch.side = scratch.side === 1 ? 0 : 1) : 0;
  const inputBuffer = (side: number, length: number, shared: boolean) =>
    side === 0
      ? (scratch.input = grow(scratch.input, length, shared))
      : (scratch.nextInput = grow(scratch.nextInput, length, shared));

  const asked = options.stepBytes;
  const stepCap = asked !== undefined && asked >= 1
    ? Math.min(asked, MAX_STEP_FLOAT_BYTES)
    : MAX_STEP_FLOAT_BYTES;
  if (plan.typeName !== "F32" && plan.action === "keep") {
    // The bytes as they are: read `chunkBytes` at a time (at most a step's floats' worth),
    // yielded in pieces of at most `stepBytes`.
    const readBytes = Math.min(options.chunkBytes, MAX_STEP_FLOAT_BYTES);
    const keepBytes = Math.min(readBytes, stepCap);
    for (let done = 0; done < info.nbytes; done += readBytes) {
      signal?.throwIfAborted();
      const length = Math.min(readBytes, info.nbytes - done);
      const at = info.fileOffset + done;
      let bytes: Uint8Array;
      if (into !== undefined) {
        bytes = await source.read(at, length, into.subarray(done, done + length));
      } else if (source.kind === "bytes") bytes = await source.read(at, length);
      else bytes = await source.read(at, length, inputBuffer(flip(), length, false));
      for (let piece = 0; piece < length; piece += keepBytes) {
        if (piece > 0) signal?.throwIfAborted();
        yield bytes.subarray(piece, Math.min(piece + keepBytes, length));
      }
    }
    return;
  }

  const requantize = plan.typeName !== "F32";
  const shares = split ? threads.threads : 1;
  // A step is whole input blocks and whole output blocks too. Into a tensor's
  // own buffer each thread gets a few steps' worth, within overall bounds; into the two
  // reused sets of buffers, the threads share one step's worth.
  const scale = into !== undefined && split ? shares * SPLIT_STEPS : 1;
  const unit = commonUnit(from.blockSize, to.blockSize);
  // (With `scale` 1 these are the caller's chunk and one step's floats.)
  const inputBytes = Math.max(
    options.chunkBytes,
    Math.min(options.chunkBytes * scale, MAX_SPLIT_INPUT_BYTES),
  );
  const unitsByInput = Math.floor(inputBytes / bytesFor(from, unit));
  const floatBytes = Math.min(stepCap * scale, MAX_SPLIT_FLOAT_BYTES);
  const unitsByOutput = Math.floor(floatBytes / (unit * 4));
  const stepElements = unit * Math.max(1, Math.min(unitsByInput, unitsByOutput));
  // Steps smaller than the default (a sink taking small chunks) share one read of what a
  // default step would read: a read per step could be a thread hop per 128 KiB written.
  const readUnits = Math.floor(MAX_STEP_FLOAT_BYTES / (unit * 4));
  const readElements = split
    ? stepElements
    : Math.max(stepElements, unit * Math.max(1, Math.min(unitsByInput, readUnits)));
  let ahead: Uint8Array | undefined;
  let aheadFirst = 0;
  let aheadEnd = 0;
  // `to` is F32 when dequantizing: 4 bytes a value.
  const stepOutBytes = bytesFor(to, stepElements);
  const outputBuffer = (side: number) =>
    side === 0
      ? (scratch.output = grow(scratch.output, stepOutBytes, split, !requantize))
      : (scratch.nextOutput = grow(scratch.nextOutput, stepOutBytes, split, !requantize));

  const tensorSums: RangeSums = { error: 0, reference: 0 };
  for (let first = 0; first < info.elements; first += stepElements) {
    signal?.throwIfAborted();
    const side = into === undefined ? flip() : 0;
    const elements = Math.min(stepElements, info.elements - first);
    const inStart = bytesFor(from, first);
    const inBytes = bytesFor(from, elements);
    const outStart = bytesFor(to, first);
    const outBytes = bytesFor(to, elements);
    const parallel = split && elements >= MIN_SPLIT_ELEMENTS;
    let src: Uint8Array;
    if (readElements > stepElements) {
      if (first >= aheadEnd) {
        const count = Math.min(readElements, info.elements - first);
        const length = bytesFor(from, count);
        const at = info.fileOffset + inStart;
        ahead = source.kind === "bytes"
          ? await source.read(at, length)
          : await source.read(at, length, scratch.ahead = grow(scratch.ahead, length, false));
        aheadFirst = first;
        aheadEnd = first + count;
      }
      const offset = bytesFor(from, first - aheadFirst);
      src = ahead!.subarray(offset, offset + inBytes);
    } else if (source.kind === "bytes") {
      // A view of the caller's bytes: shared with workers below, if needed.
      src = await source.read(info.fileOffset + inStart, inBytes);
    } else {
      src = await source.read(
        info.fileOffset + inStart,
        inBytes,
        inputBuffer(side, inBytes, split),
      );
    }
    const dst = into !== undefined
      ? into.subarray(outStart, outStart + outBytes)
      : outputBuffer(side).subarray(0, outBytes);
    const job: RangeJob = { from: from.id, to: to.id, littleEndian, src, dst, elements };
    if (plan.action === "transcode") job.transcode = true;
    if (options.sums !== undefined && plan.action !== "keep") job.measure = true;
    let sums: RangeSums;
    if (parallel) {
      const jobs = splitJob(job, from, to, unit, shares);
      if (!(src.buffer instanceof SharedArrayBuffer)) {
        // Workers see shared memory only: their parts are copied there, while this thread
        // reads its own part where it is.
        const copy = inputBuffer(side, inBytes, true);
        for (const part of jobs.slice(1)) {
          const at = part.src.byteOffset - src.byteOffset;
          copy.set(part.src, at);
          part.src = copy.subarray(at, at + part.src.length);
        }
      }
      // Workers write shared memory only: into an ordinary buffer, their parts go through
      // scratch memory and are copied in once done.
      const own = jobs[0].dst.length;
      const copied = dst.buffer instanceof SharedArrayBuffer ? [] : jobs.slice(1).map((part) => {
        const at = part.dst.byteOffset - dst.byteOffset - own;
        const target = part.dst;
        scratch.output = grow(scratch.output, outBytes - own, true);
        part.dst = scratch.output.subarray(at, at + target.length);
        return [target, part.dst];
      });
      sums = await threads!.run(jobs, scratch);
      for (const [target, part] of copied) target.set(part);
    } else sums = convertRange(job, scratch);
    tensorSums.error += sums.error;
    tensorSums.reference += sums.reference;
    if (options.sums !== undefined && job.measure === true && first + elements >= info.elements) {
      addTensorSums(options.sums, info.name, tensorSums);
    }
    yield dst;
  }
}

/** Splits a job into up to `shares` parts of whole units, in order. */
function splitJob(
  job: RangeJob,
  from: GgmlTypeTraits,
  to: GgmlTypeTraits,
  unit: number,
  shares: number,
): RangeJob[] {
  const units = job.elements / unit;
  const per = Math.ceil(units / shares);
  const jobs: RangeJob[] = [];
  for (let firstUnit = 0; firstUnit < units; firstUnit += per) {
    const first = firstUnit * unit;
    const elements = Math.min(per, units - firstUnit) * unit;
    jobs.push({
      ...job,
      src: job.src.subarray(bytesFor(from, first), bytesFor(from, first + elements)),
      dst: job.dst.subarray(bytesFor(to, first), bytesFor(to, first + elements)),
      elements,
    });
  }
  return jobs;
}
