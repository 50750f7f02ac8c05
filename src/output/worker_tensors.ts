/**
 * Whole tensors converted on worker threads while this thread converts the others, for an
 * in-memory conversion that keeps every tensor. Allocating and filling the output is most
 * of such a conversion's time, and it happens on the thread that writes the output: here
 * each worker writes its tensors into buffers of their own that move to it and back
 * (ordinary buffers, as every result is), so that work runs on every thread, not only on
 * the one that keeps the result.
 *
 * This thread takes tensors from the front of the model, in file order; the workers take
 * the ones they can from the back, each fed a bounded amount of input ahead (copied into a
 * buffer that moves with the job), so the two meet wherever their speeds put them and the
 * tensors this thread yields next are rarely still on a worker. A worker that fails is not
 * fatal: its tensors are converted on this thread instead.
 *
 * @module
 */
import type { ByteSource } from "../model/byte_source.ts";
import type { ConvertedTensor, TensorPlan } from "../model/conversion.ts";
import type { RangeJob, RangeSums } from "../convert/convert_range.ts";
import { type ConvertThreads, WorkerFailure } from "../convert/convert_threads.ts";

/** The fewest values worth converting whole on a worker (below, moving costs what it saves). */
const MIN_ELEMENTS = 1 << 20;
/**
 * The most input bytes of a tensor converted whole on a worker: its input is copied into a
 * buffer that moves with it, beyond the output, and it is seconds of work at the slowest
 * quantizer, well within the time a worker is given to answer.
 */
const MAX_INPUT_BYTES = 64 << 20;
/** Input bytes posted ahead to one worker (at least one tensor's): enough to keep it busy. */
const WINDOW_BYTES = 16 << 20;
/** Input buffers kept for use again. */
const SPARE_BUFFERS = 4;

/** What a worker gave back for a tensor: the tensor and its error sums. */
export interface WorkerTensor {
  tensor: ConvertedTensor;
  sums: RangeSums;
}

/** Where a tensor's bytes are, and what to make of what comes back. */
export interface TensorInput {
  source: ByteSource;
  littleEndian: boolean;
}

/** One tensor's answer, settled once the worker (or its failure) has given it. */
interface Slot {
  settled: boolean;
  /** The tensor; `undefined` if the worker failed (convert it here); rejects on a read error. */
  promise: Promise<WorkerTensor | undefined>;
  resolve(value: WorkerTensor | undefined): void;
  reject(error: unknown): void;
}

/**
 * The tensors of a conversion that worker threads convert whole.
 *
 * @example
 * ```ts
 * import { WorkerTensors } from "./worker_tensors.ts";
 * import { ConvertThreads } from "../convert/convert_threads.ts";
 * import { openGgufModel } from "gguf-stream/sources";
 * import { planConversion } from "gguf-stream";
 * import assert from "node:assert/strict";
 * const model = await openGgufModel(new URL("../../samples/tiny-llama.gguf", import.meta.url));
 * const plan = planConversion(model);
 * const threads = new ConvertThreads(2);
 * const part = model.parts[0];
 * const workers = new WorkerTensors(plan, () => ({ source: part.source, littleEndian: true }), threads, (e, b, l) => {
 *   throw new Error("unused: the sample's tensors are too small for a worker");
 * }, false);
 * assert.ok(plan.every((_, i) => !workers.onWorker(i)));
 * threads.close();
 * await model.close();
 * ```
 */
export class WorkerTensors {
  readonly #plan: TensorPlan[];
  readonly #inputOf: (i: number) => TensorInput;
  readonly #threads: ConvertThreads;
  readonly #make: (entry: TensorPlan, bytes: Uint8Array, littleEndian: boolean) => ConvertedTensor;
  readonly #measure: boolean;
  readonly #workers: number;
  /** The first tensor nobody has taken (this thread takes from here). */
  #front = 0;
  /** The last tensor nobody has taken (the workers take from here, downwards). */
  #back: number;
  /** Input bytes posted to each worker and not yet answered. */
  readonly #inFlight: number[];
  /** The tensors the workers took, by index. */
  readonly #slots = new Map<number, Slot>();
  readonly #signal: AbortSignal | undefined;
  /** Input buffers back from the workers, to copy the next tensors' input into. */
  readonly #spare: ArrayBuffer[] = [];
  #feeding: Promise<void> | undefined;
  #feedAgain = false;
  #closed = false;

  /**
   * Starts feeding the workers from the back of the plan.
   *
   * @param plan The conversion's plan.
   * @param inputOf Where tensor `i`'s bytes are.
   * @param threads The conversion's threads (`threads - 1` workers).
   * @param make A converted tensor over output bytes that came back.
   * @param measure Whether the error is measured (the sums come back with each tensor).
   * @param signal Once it fires, nothing more is posted.
   */
  constructor(
    plan: TensorPlan[],
    inputOf: (i: number) => TensorInput,
    threads: ConvertThreads,
    make: (entry: TensorPlan, bytes: Uint8Array, littleEndian: boolean) => ConvertedTensor,
    measure: boolean,
    signal?: AbortSignal,
  ) {
    this.#signal = signal;
    this.#plan = plan;
    this.#inputOf = inputOf;
    this.#threads = threads;
    this.#make = make;
    this.#measure = measure;
    this.#workers = threads.parallel ? threads.threads - 1 : 0;
    this.#inFlight = new Array(this.#workers).fill(0);
    this.#back = plan.length - 1;
    this.#feed();
  }

  /**
   * Claims tensor `i` for this thread (no worker takes it from then on); call it before
   * converting a tensor that {@linkcode WorkerTensors.onWorker} says is not a worker's.
   */
  claim(i: number): void {
    this.#front = Math.max(this.#front, i + 1);
  }

  /**
   * Claims the next tensor after `i` that nobody has taken, for this thread to convert
   * early (while a worker's tensor `i` is not done); `undefined` when none is left.
   */
  claimNext(i: number): number | undefined {
    let k = Math.max(this.#front, i + 1);
    while (k < this.#plan.length && this.#slots.has(k)) k++;
    if (k >= this.#plan.length) return undefined;
    this.#front = k + 1;
    return k;
  }

  /** Whether tensor `i` can go to a worker: converted, randomly readable, large, bounded. */
  #eligible(i: number): boolean {
    const { info, action } = this.#plan[i];
    return action !== "keep" && this.#inputOf(i).source.kind !== "stream" &&
      info.elements >= MIN_ELEMENTS && info.nbytes <= MAX_INPUT_BYTES;
  }

  /** Whether a worker converts tensor `i` (else this thread does). */
  onWorker(i: number): boolean {
    return this.#slots.has(i);
  }

  /** Whether tensor `i`'s worker has answered (or failed). */
  settled(i: number): boolean {
    return this.#slots.get(i)?.settled ?? true;
  }

  /**
   * A worker's tensor: the tensor and its sums, or `undefined` where the worker failed
   * (convert it on this thread). Rejects where its input could not be read.
   */
  result(i: number): Promise<WorkerTensor | undefined> {
    return this.#slots.get(i)?.promise ?? Promise.resolve(undefined);
  }

  /**
   * Posts nothing more (every tensor no worker has taken is left to this thread); waits
   * until what was posted has come back or failed. Call it once the
   * conversion ends, however it ends, after stopping the threads.
   */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#feeding !== undefined) await this.#feeding;
    await Promise.allSettled([...this.#slots.values()].map((slot) => slot.promise));
  }

  /**
   * Gives each worker the last tensors nobody has taken that it can convert, while its
   * input in flight stays within the window.
   */
  #feed(): void {
    if (this.#feeding !== undefined) {
      this.#feedAgain = true;
      return;
    }
    this.#feeding = (async () => {
      do {
        this.#feedAgain = false;
        for (let lane = 0; lane < this.#workers; lane++) {
          while (!this.#closed && !this.#signal?.aborted && this.#threads.parallel) {
            while (this.#back >= this.#front && !this.#eligible(this.#back)) this.#back--;
            if (this.#back < this.#front) break;
            const bytes = this.#plan[this.#back].info.nbytes;
            if (this.#inFlight[lane] > 0 && this.#inFlight[lane] + bytes > WINDOW_BYTES) break;
            const i = this.#back--;
            this.#inFlight[lane] += bytes;
            await this.#post(lane, i, this.#take(i));
          }
        }
      } while (this.#feedAgain);
    })().finally(() => (this.#feeding = undefined));
  }

  /** Marks tensor `i` as a worker's: its slot, settled by the worker's answer. */
  #take(i: number): Slot {
    let resolve!: Slot["resolve"];
    let reject!: Slot["reject"];
    const promise = new Promise<WorkerTensor | undefined>((yes, no) => {
      resolve = yes;
      reject = no;
    });
    const slot: Slot = { settled: false, promise, resolve, reject };
    promise.then(() => (slot.settled = true), () => (slot.settled = true));
    this.#slots.set(i, slot);
    return slot;
  }

  /**
   * A buffer for `length` input bytes: a spare one large enough (so that input copies are
   * not left for the garbage collector to find), else a new one of whole MiBs.
   */
  #inputBuffer(length: number): Uint8Array {
    const at = this.#spare.findIndex((buffer) => buffer.byteLength >= length);
    const buffer = at >= 0
      ? this.#spare.splice(at, 1)[0]
      : new ArrayBuffer(Math.ceil(length / 2 ** 20) * 2 ** 20);
    return new Uint8Array(buffer, 0, length);
  }

  /**
   * Keeps an input buffer back from a worker for the next input, if it is of a window's
   * size at most and few are kept; frees a larger one at once where the runtime can
   * (`ArrayBuffer.prototype.transfer`), rather than leaving it to the garbage collector.
   */
  #recycle(buffer: ArrayBuffer): void {
    if (buffer.byteLength <= WINDOW_BYTES && this.#spare.length < SPARE_BUFFERS) {
      this.#spare.push(buffer);
      return;
    }
    (buffer as { transfer?(length: number): ArrayBuffer }).transfer?.(0);
  }

  /** Reads tensor `i`'s input and posts it to worker `lane`; its slot settles with the answer. */
  async #post(lane: number, i: number, slot: Slot): Promise<void> {
    const entry = this.#plan[i];
    const { info } = entry;
    const done = () => {
      this.#inFlight[lane] -= info.nbytes;
      this.#feed();
    };
    if (!this.#threads.parallel) {
      // The workers are gone: every tensor left is converted on this thread.
      slot.resolve(undefined);
      return done();
    }
    const { source, littleEndian } = this.#inputOf(i);
    const src = this.#inputBuffer(info.nbytes);
    try {
      await source.read(info.fileOffset, info.nbytes, src);
    } catch (error) {
      slot.reject(error);
      return done();
    }
    const job: RangeJob = {
      from: info.type,
      to: entry.type,
      littleEndian,
      src,
      dst: new Uint8Array(entry.nbytes),
      elements: info.elements,
    };
    if (entry.action === "transcode") job.transcode = true;
    if (this.#measure) job.measure = true;
    this.#threads.convertOwned(lane, job).then(
      ({ sums, dst, src }) => {
        this.#recycle(src.buffer as ArrayBuffer);
        slot.resolve({ tensor: this.#make(entry, dst, littleEndian), sums });
      },
      (error) => (error instanceof WorkerFailure ? slot.resolve(undefined) : slot.reject(error)),
    ).finally(done);
  }
}
