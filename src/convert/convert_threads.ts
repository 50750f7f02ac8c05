/**
 * The worker threads of one conversion: each step's run of blocks is split into whole
 * units, the first part converted on this thread while the others are converted by
 * workers into shared memory. Workers start when first needed and stop when the
 * conversion closes the pool (or after a short idle time, so a forgotten pool never keeps
 * a process alive). A worker that fails is not fatal: its part is redone here and the
 * pool carries on with this thread alone. A worker that stops (it exits or is ended
 * during a part or between steps) fails at once where the runtime tells (Node, Bun);
 * elsewhere after 60 s without an answer.
 *
 * @module
 */
import { availableCores, canStartWorkers, startWorker } from "../runtime/current.ts";
import type { WorkerThread } from "../runtime/platform.ts";
import { convertRange, type RangeJob, type RangeScratch, type RangeSums } from "./convert_range.ts";
import type { WorkerAnswer, WorkerJob } from "./convert_worker.ts";

/**
 * The workers' module: TypeScript beside this one in the sources, JavaScript in dist/;
 * none where this module has no URL (some bundles), and then no workers either.
 */
function defaultWorkerUrl(): URL | undefined {
  const here: unknown = import.meta.url;
  if (typeof here !== "string") return undefined;
  return new URL(here.endsWith(".ts") ? "./convert_worker.ts" : "./convert_worker.js", here);
}

/**
 * A worker's part takes milliseconds (a step is at most 64 MiB of float32s); one not
 * answered in this time is given up and redone on this thread.
 */
const ANSWER_MS = 60_000;

/** Workers idle this long are stopped (and started again when needed). */
const IDLE_MS = 2000;

/** A job posted to a worker and not yet answered. */
interface Pending {
  resolve(answer: WorkerAnswer): void;
  reject(error: Error): void;
}

interface Slot {
  thread: WorkerThread;
  /** Jobs posted and not yet answered, in the order posted (a worker answers in order). */
  queue: Pending[];
  /** Gives up on the first job in `queue` if it is not answered in time. */
  timer?: ReturnType<typeof setTimeout>;
  /** The thread has stopped: nothing posted to it would be answered. */
  stopped?: boolean;
}

/** Thrown for a worker that could not run its part (the part is then redone here). */
export class WorkerFailure extends Error {}

/** What a worker gave back for an owned run: its error sums and its output. */
export interface OwnedResult {
  /** The run's error sums (zeros unless measured). */
  sums: RangeSums;
  /** The output: a view of the buffer that moved back from the worker. */
  dst: Uint8Array;
  /** The input, moved back too: its buffer may be used again. */
  src: Uint8Array;
}

/**
 * Below this many values to convert, the default is one thread: starting a worker costs
 * tens of milliseconds, about what one thread converts in the time (64 MiB of float32s).
 */
export const AUTO_THREADS_MIN_ELEMENTS = 1 << 24;

/**
 * The most threads a conversion may be asked for: each is a worker with its own module
 * instance and buffers, so the bound keeps a mistaken count from exhausting memory.
 */
export const MAX_THREADS = 1024;

/**
 * Checks the `threads` option and fills in its default.
 *
 * @param threads The caller's value: a positive integer, or `undefined` for the default.
 * @param work The values the conversion converts (the default uses one thread for a
 *   conversion too small to gain from more).
 * @param spare Cores the default leaves to other work (the writes of a file output).
 * @returns The threads to use: `threads` if given, else every core but `spare` (at least
 *   one) for a conversion of at least {@linkcode AUTO_THREADS_MIN_ELEMENTS} values, else
 *   1; always 1 where this runtime has no workers or no shared memory.
 * @throws {TypeError} For anything but an integer from 1 to {@linkcode MAX_THREADS}.
 *
 * @example
 * ```ts
 * import { checkThreads } from "./convert_threads.ts";
 * import assert from "node:assert/strict";
 * assert.equal(checkThreads(1, 1e9), 1);
 * assert.equal(checkThreads(undefined, 1000), 1);
 * assert.ok(checkThreads(undefined, 1e9) >= 1);
 * assert.ok(checkThreads(undefined, 1e9, 1) >= 1);
 * assert.throws(() => checkThreads(0, 1000), TypeError);
 * assert.throws(() => checkThreads(1e9, 1000), TypeError);
 * ```
 */
export function checkThreads(threads: number | undefined, work: number, spare = 0): number {
  if (
    threads !== undefined &&
    (!Number.isSafeInteger(threads) || threads < 1 || threads > MAX_THREADS)
  ) {
    throw new TypeError(`threads must be an integer from 1 to ${MAX_THREADS}, got ${threads}`);
  }
  if (!canStartWorkers(defaultWorkerUrl())) return 1;
  if (threads !== undefined) return threads;
  return work >= AUTO_THREADS_MIN_ELEMENTS ? Math.max(1, availableCores() - spare) : 1;
}

/**
 * A conversion's threads: this one and `threads - 1` workers.
 *
 * @example Two threads dequantizing 64 Q8_0 blocks into shared memory
 * ```ts
 * import { ConvertThreads } from "./convert_threads.ts";
 * import assert from "node:assert/strict";
 * const src = new Uint8Array(new SharedArrayBuffer(64 * 34));
 * for (let b = 0; b < 64; b++) src.set([0x00, 0x3c, b], b * 34); // scale 1, first value b
 * const dst = new Uint8Array(new SharedArrayBuffer(64 * 32 * 4));
 * const pool = new ConvertThreads(2);
 * try {
 *   const half = 32 * 34, halfOut = 32 * 32 * 4;
 *   await pool.run([
 *     { from: 8, to: 0, littleEndian: true, src: src.subarray(0, half), dst: dst.subarray(0, halfOut), elements: 1024 },
 *     { from: 8, to: 0, littleEndian: true, src: src.subarray(half), dst: dst.subarray(halfOut), elements: 1024 },
 *   ], {});
 * } finally {
 *   pool.close();
 * }
 * assert.equal(new Float32Array(dst.buffer)[63 * 32], 63);
 * ```
 */
export class ConvertThreads {
  /** The threads converting, this one included. */
  readonly threads: number;
  #slots: Slot[] = [];
  #nextId = 1;
  #broken = false;
  #idle: ReturnType<typeof setTimeout> | undefined;
  #workerUrl: URL | undefined;

  /**
   * A pool for one conversion; no worker starts before {@linkcode ConvertThreads.run}
   * needs one.
   *
   * @param threads This thread and the workers to add (1: no workers at all).
   * @param workerUrl The workers' module (default: `convert_worker` beside this module;
   *   tests substitute one).
   */
  constructor(threads: number, workerUrl?: URL) {
    this.threads = threads;
    this.#workerUrl = workerUrl;
  }

  /** `true` while parts of a step may go to workers. */
  get parallel(): boolean {
    return this.threads > 1 && !this.#broken;
  }

  #start(): Slot | undefined {
    const url = this.#workerUrl ?? defaultWorkerUrl();
    if (url === undefined) return undefined;
    const slot: Slot = { thread: undefined!, queue: [] };
    const thread = startWorker(url, {
      onMessage: (data) => {
        const answer = data as WorkerAnswer;
        const head = slot.queue.shift();
        this.#arm(slot);
        if (head === undefined) return;
        if (answer.error === undefined) head.resolve(answer);
        else head.reject(new Error(answer.error));
      },
      onError: (error) => this.#fail(slot, new WorkerFailure(error.message)),
      onExit: () => {
        slot.stopped = true;
        this.#fail(slot, new WorkerFailure("the worker thread stopped"));
      },
    });
    if (thread === undefined) return undefined;
    slot.thread = thread;
    return slot;
  }

  /** Every job still posted to `slot` fails with `error`. */
  #fail(slot: Slot, error: WorkerFailure): void {
    const queue = slot.queue.splice(0);
    this.#arm(slot);
    for (const pending of queue) pending.reject(error);
  }

  /**
   * Times the first job in the slot's queue (a worker that never answers must not hang
   * the conversion: its jobs are redone here); lets an idle thread stop keeping the
   * process alive.
   */
  #arm(slot: Slot): void {
    clearTimeout(slot.timer);
    slot.timer = undefined;
    if (slot.queue.length === 0) {
      slot.thread?.keepAlive(false);
      return;
    }
    slot.thread.keepAlive(true);
    slot.timer = setTimeout(() => {
      slot.stopped = true;
      slot.thread.terminate();
      this.#fail(slot, new WorkerFailure(`no answer in ${ANSWER_MS / 1000} s`));
    }, ANSWER_MS);
  }

  #post(slot: Slot, job: WorkerJob | RangeJob, transfer?: ArrayBuffer[]): Promise<WorkerAnswer> {
    return new Promise<WorkerAnswer>((resolve, reject) => {
      if (slot.stopped) {
        reject(new WorkerFailure("the worker thread had stopped"));
        return;
      }
      const pending: Pending = { resolve, reject };
      slot.queue.push(pending);
      if (slot.queue.length === 1) this.#arm(slot);
      const message: WorkerJob = { ...job, id: this.#nextId++ };
      try {
        slot.thread.postMessage(message, transfer);
      } catch (error) {
        slot.queue.splice(slot.queue.indexOf(pending), 1);
        this.#arm(slot);
        reject(new WorkerFailure(String(error)));
      }
    });
  }

  /**
   * Converts every job: the others are posted to workers, then the first is converted on
   * this thread before the call returns; the promise resolves when the workers' parts are
   * done too (so a caller may write out a previous step meanwhile). Jobs beyond the
   * workers, and every job once a worker has failed, are converted on this thread. The
   * jobs' `src` and `dst` must be views of `SharedArrayBuffer`s.
   *
   * @param jobs Disjoint runs of blocks.
   * @param scratch This thread's pass buffer.
   * @returns The jobs' error sums added in job order, when every job is done.
   */
  async run(jobs: RangeJob[], scratch: RangeScratch): Promise<RangeSums> {
    clearTimeout(this.#idle);
    // Each answer is caught at once: one failing while an earlier one is awaited is no
    // unhandled rejection.
    const results: (RangeSums | Promise<RangeSums | Error>)[] = [];
    const here: number[] = [0];
    for (let i = 1; i < jobs.length; i++) {
      const index = i - 1;
      // (A worker with runs of its own queued leaves its part to this thread.)
      if (this.parallel && index < this.threads - 1 && !this.#slots[index]?.queue.length) {
        const slot = this.#slots[index] ?? this.#start();
        if (slot !== undefined) {
          this.#slots[index] = slot;
          results[i] = this.#post(slot, jobs[i]).then(
            (answer) => answer.sums ?? { error: 0, reference: 0 },
            (error) => error,
          );
          continue;
        }
        this.#broken = true;
      }
      here.push(i);
    }
    for (const i of here) results[i] = convertRange(jobs[i], scratch);
    let failure: unknown;
    // Added in job order, whichever thread converted a job.
    const total: RangeSums = { error: 0, reference: 0 };
    for (let i = 0; i < jobs.length; i++) {
      let sums = await results[i];
      if (sums instanceof Error) {
        if (!(sums instanceof WorkerFailure)) {
          failure ??= sums;
          continue;
        }
        // The worker is gone: its part is redone here, and no more parts go to workers.
        this.#broken = true;
        sums = convertRange(jobs[i], scratch);
      }
      total.error += sums.error;
      total.reference += sums.reference;
    }
    if (failure !== undefined) throw failure;
    this.#settle();
    return total;
  }

  /**
   * Converts one whole run on worker `lane` (0 to `threads - 2`), into buffers that move
   * to it meanwhile, so that the worker writes the output where it stays (an ordinary
   * buffer) while this thread does other work; runs posted to one lane are converted in
   * the order posted. `job.src` and `job.dst` must be views of ordinary `ArrayBuffer`s of
   * their own; both buffers are unusable here from the call on (they move, and come back).
   *
   * @param lane The worker.
   * @param job The run.
   * @returns The sums, the output and the input, moved back. Rejects with a {@linkcode WorkerFailure}
   *   when the worker could not do it (or none could start): the buffers are lost, the run
   *   is to be redone here.
   */
  async convertOwned(lane: number, job: RangeJob): Promise<OwnedResult> {
    clearTimeout(this.#idle);
    try {
      if (!this.parallel || lane < 0 || lane >= this.threads - 1) {
        throw new WorkerFailure("no worker for this run");
      }
      const slot = this.#slots[lane] ?? this.#start();
      if (slot === undefined) {
        this.#broken = true;
        throw new WorkerFailure("no worker could start");
      }
      this.#slots[lane] = slot;
      const transfer = [job.src.buffer as ArrayBuffer, job.dst.buffer as ArrayBuffer];
      const answer = await this.#post(slot, { ...job, owned: true }, transfer);
      return {
        sums: answer.sums ?? { error: 0, reference: 0 },
        dst: answer.dst!,
        src: answer.src!,
      };
    } catch (error) {
      if (error instanceof WorkerFailure) this.#broken = true;
      throw error;
    } finally {
      this.#settle();
    }
  }

  /** After a job: a broken pool stops; an idle one stops after a while. */
  #settle(): void {
    if (this.#slots.some((slot) => slot.queue.length > 0)) return;
    if (this.#broken) this.close();
    else if (this.#slots.length > 0) {
      clearTimeout(this.#idle);
      this.#idle = setTimeout(() => this.#stop(), IDLE_MS);
      (this.#idle as { unref?(): void }).unref?.();
    }
  }

  #stop(): void {
    for (const slot of this.#slots) {
      slot.stopped = true;
      slot.thread.terminate();
      // Jobs still posted fail now (where the runtime would not tell that it stopped).
      this.#fail(slot, new WorkerFailure("the pool was stopped"));
    }
    this.#slots = [];
  }

  /** Stops the workers (they start again if the pool is used again). */
  close(): void {
    clearTimeout(this.#idle);
    this.#stop();
  }
}
