/**
 * The worker threads' module: converts each run of blocks it is sent, into the shared
 * memory the job names, and answers with the job's number (or the error's message). An
 * `owned` job came with buffers of its own, moved to this thread: both move back with the
 * answer.
 *
 * @module
 */
import { convertRange, type RangeJob, type RangeScratch, type RangeSums } from "./convert_range.ts";

/** A job as posted to a worker thread. */
export interface WorkerJob extends RangeJob {
  /** Echoed in the answer. */
  id: number;
  /** `src` and `dst` are whole ordinary buffers moved here; `dst` moves back. */
  owned?: boolean;
}

/** A worker thread's answer. */
export interface WorkerAnswer {
  /** The job's number. */
  id: number;
  /** Set when the job failed. */
  error?: string;
  /** The job's error sums (when it succeeded). */
  sums?: RangeSums;
  /** An owned job's output, moved back. */
  dst?: Uint8Array;
  /** An owned job's input, moved back (for its buffer to be used again). */
  src?: Uint8Array;
}

const scope = globalThis as unknown as {
  onmessage: ((event: { data: WorkerJob }) => void) | null;
  postMessage(answer: WorkerAnswer, transfer?: ArrayBuffer[]): void;
};
const scratch: RangeScratch = {};

scope.onmessage = ({ data: job }) => {
  try {
    const sums = convertRange(job, scratch);
    if (job.owned) {
      const buffers = [job.dst.buffer as ArrayBuffer, job.src.buffer as ArrayBuffer];
      scope.postMessage({ id: job.id, sums, dst: job.dst, src: job.src }, buffers);
    } else scope.postMessage({ id: job.id, sums });
  } catch (error) {
    scope.postMessage({ id: job.id, error: String(error) });
  }
};
