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
}
