/**
 * The error family of gguf-stream. Every problem with a file's bytes is a
 * {@linkcode GgufError} with a stable `code` and the byte `offset` where it was
 * found; a caller's bad argument is a `TypeError`.
 *
 * @module
 */
import { escapeText } from "./escape_text.ts";

/** Stable codes carried by {@linkcode GgufError}. */
export type GgufErrorCode =
  /** The file does not start with the bytes `GGUF`. */
  | "BAD_MAGIC"
  /** The version field is not 1, 2 or 3. */
  | "UNSUPPORTED_VERSION"
  /** The bytes end before a field, string, array or tensor does. */
  | "TRUNCATED"
  /** A count or length cannot fit in the bytes that remain, or passes a hard limit. */
  | "LIMIT_EXCEEDED"
  /** A metadata value type id is not one GGUF defines. */
  | "BAD_VALUE_TYPE"
  /** A tensor has more than 4 dimensions, or its element count overflows. */
  | "BAD_SHAPE"
  /** A tensor's row length is not a multiple of its type's block size. */
  | "BAD_BLOCK_SIZE"
  /** A tensor type id is not in ggml's table, or no kernel exists for a requested conversion. */
  | "UNSUPPORTED_TYPE"
  /** A tensor's data lies outside the file. */
  | "OUT_OF_BOUNDS"
  /** `general.alignment` is not a power of two, or a tensor offset is not aligned. */
  | "BAD_ALIGNMENT"
  /** Two tensors' data ranges overlap. */
  | "OVERLAP"
  /**
   * Tensor data is not laid out as ggml requires (each tensor's data right after the
   * previous one's in index order, padded to the alignment): a gap, or another order.
   * Accepted with `lenient`.
   */
  | "BAD_LAYOUT"
  /**
   * A metadata key is empty, or a tensor name takes 64 bytes or more (ggml's
   * `GGML_MAX_NAME`): ggml refuses both. Accepted with `lenient`.
   */
  | "BAD_NAME"
  /** Two tensors share a name. */
  | "DUPLICATE_TENSOR"
  /** Two metadata entries share a key. */
  | "DUPLICATE_KEY"
  /** A metadata value has the wrong type for its well-known key. */
  | "BAD_METADATA"
  /** A metadata key or tensor asked for by name is not in the file. */
  | "NOT_FOUND"
  /** A conversion policy refused a tensor (strategy `error`). */
  | "REFUSED"
  /** The data cannot be converted in this byte order. */
  | "UNSUPPORTED_BYTE_ORDER"
  /** The operating system refused an I/O operation. */
  | "IO"
  /** The output file exists and replacing it was not asked for. */
  | "OUTPUT_EXISTS"
  /** The output path names an input file. */
  | "SAME_FILE"
  /** The output path cannot be a converted file: a directory, a device, a FIFO, a dangling link, a missing directory. */
  | "BAD_OUTPUT"
  /** The conversion was interrupted (a signal or an abort). */
  | "ABORTED"
  /** A stream's tensors are not in ascending offset order, so it cannot be read in one pass. */
  | "NOT_SEQUENTIAL";

/**
 * An error in a GGUF file's bytes, or in reading them. Its message is safe to print to a
 * terminal: names quoted from the file have their control characters escaped (see
 * {@linkcode escapeText}).
 *
 * @example Telling a truncated file from other failures
 * ```ts
 * import { GgufError, readGguf } from "gguf-stream";
 * import assert from "node:assert/strict";
 *
 * const bytes = new Uint8Array([0x47, 0x47, 0x55, 0x46, 3, 0]);
 * await assert.rejects(readGguf(bytes), (e: unknown) => {
 *   return e instanceof GgufError && e.code === "TRUNCATED" && e.offset === 4;
 * });
 * ```
 */
export class GgufError extends Error {
  /** A stable, machine-readable reason. */
  readonly code: GgufErrorCode;
  /** The byte offset in the file where the problem was found, or `undefined` if none applies. */
  readonly offset: number | undefined;

  /**
   * Creates an error with a stable code and, where it applies, the byte offset.
   *
   * @param code A stable reason from {@linkcode GgufErrorCode}.
   * @param message What was being done, what was expected, what was found; control
   *   characters in it are escaped.
   * @param offset The byte offset of the problem in the file.
   * @param options The underlying cause, if any.
   */
  constructor(
    code: GgufErrorCode,
    message: string,
    offset?: number,
    options?: { cause?: unknown },
  ) {
    super(escapeText(message), options);
    this.name = "GgufError";
    this.code = code;
    this.offset = offset;
  }
}

/**
 * Formats a byte count or offset with `_` separators, as the error messages print them.
 *
 * @example
 * ```ts
 * import { formatInteger } from "./errors.ts";
 * import assert from "node:assert/strict";
 * assert.equal(formatInteger(9437216), "9_437_216");
 * ```
 */
export function formatInteger(value: number | bigint): string {
  const text = String(value);
  const negative = text.startsWith("-");
  const digits = negative ? text.slice(1) : text;
  let out = "";
  for (let i = 0; i < digits.length; i++) {
    if (i > 0 && (digits.length - i) % 3 === 0) out += "_";
    out += digits[i];
  }
  return negative ? "-" + out : out;
}

/**
 * The error to raise for a failure that happened because `signal` fired: every function
 * taking a signal fails so, whatever step the abort stopped. That is a `GgufError`
 * `ABORTED` whose `cause` is the signal's reason (the reason itself when it is already
 * such an error), or `error` itself when the signal did not fire.
 *
 * @param error What was thrown.
 * @param signal The operation's abort signal, if any.
 * @returns The error to throw.
 *
 * @example
 * ```ts
 * import { abortedError } from "./errors.ts";
 * import { GgufError } from "gguf-stream";
 * import assert from "node:assert/strict";
 * const controller = new AbortController();
 * controller.abort(new Error("user left"));
 * const error = abortedError(new Error("read failed"), controller.signal);
 * assert.ok(error instanceof GgufError && error.code === "ABORTED");
 * assert.equal(error.cause, controller.signal.reason);
 * ```
 */
export function abortedError(error: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted !== true) return error;
  const reason: unknown = signal.reason;
  if (reason instanceof GgufError && reason.code === "ABORTED") return reason;
  const why = reason instanceof Error ? `: ${reason.message}` : "";
  return new GgufError("ABORTED", `Aborted by the signal${why}`, undefined, { cause: reason });
}
