/**
 * Where converted bytes go, whatever the destination (a file, standard output, memory).
 *
 * @module
 */

/** Where converted bytes go: written in order, then committed, or aborted on failure. */
export interface ByteSink {
  /** Appends bytes; the chunk may be reused once this resolves. */
  write(bytes: Uint8Array): Promise<void>;
  /** Completes the output (e.g. renames a temporary file into place). */
  commit(): Promise<void>;
  /** Discards everything written; called on any failure. */
  abort(): Promise<void>;
  /**
   * Where the sink's time went, in seconds (counts where the name says so), for reports
   * such as `-v` and the benches: a file sink gives its flushes, close and rename.
   */
  phases?(): Record<string, number>;
  /**
   * The output bytes per chunk this sink takes best, when it has a preference: a thread
   * writing into a pipe with blocking writes does best with chunks small enough to be
   * still in the core's cache when written (about 128 KiB). Absent: the converter's own
   * (up to 4 MiB of float32 values a step).
   */
  readonly chunkBytes?: number;
}

/**
 * Where a conversion into a sink spent its time, in seconds. Writes run beside the
 * conversion, so `converting` is the conversion the writes did not hide and
 * `waitingOnWrites` the writing the conversion did not hide; with `preparing` and
 * `committing` they add up to the whole.
 */
export interface WritePhases {
  /** Planning, measuring for `requantize: "auto"`, the header, opening the sink. */
  preparing: number;
  /** Making chunks (reading, converting) while no write was outstanding. */
  converting: number;
  /** Waiting for the sink to take the previous chunk. */
  waitingOnWrites: number;
  /** The sink's commit: for a file the final flush, close, rename and directory flush. */
  committing: number;
  /** The sink's own breakdown, when it gives one (see {@linkcode ByteSink.phases}). */
  sink?: Record<string, number>;
}
