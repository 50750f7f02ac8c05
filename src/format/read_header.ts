/**
 * The one grow-and-retry header reader: parse a prefix of the input, and when the header
 * runs past it, ask for a longer prefix — for random-access sources and streams alike.
 *
 * @module
 */
import { NeedMoreBytes } from "./cursor.ts";
import { formatInteger, GgufError } from "../model/errors.ts";
import type { GgufFile } from "../model/gguf_file.ts";
import { parseGgufHeader, type ParseOptions } from "./parse_header.ts";

/** A prefix of the input, and whether it is the whole input. */
export interface Prefix {
  bytes: Uint8Array;
  /** `true` when no byte follows `bytes`. */
  complete: boolean;
}

/** How {@linkcode readGrowingHeader} reads. */
export interface GrowingHeaderOptions extends ParseOptions {
  /** The first prefix's length. */
  first: number;
  /** The longest prefix to ask for; past it the header is refused with `LIMIT_EXCEEDED`. */
  max: number;
  /** The option a caller raises to allow a longer header (named in the error). */
  maxName: string;
  /** The input's size, when known. */
  totalSize?: number;
  /** What the input is called where it is empty (default "the file"), e.g. "the stream". */
  inputName?: string;
}

/** How much longer each retry's prefix is, at least. */
const GROWTH = 4;

/**
 * Parses a header from prefixes of growing length: only as many bytes as the header
 * needs are read, in a few steps whatever its size. A step that runs short allocates
 * nothing (the parser scans before it builds).
 *
 * @param prefix Returns (at least) the first `length` bytes of the input, or all of it.
 * @param options First and largest prefix, the input's size, parse options.
 * @returns The parsed header.
 * @throws {GgufError} What the parser raises; `LIMIT_EXCEEDED` when the header needs more
 *   than `max` bytes or more memory than `maxHeaderMemory`.
 *
 * @example
 * ```ts
 * import { readGrowingHeader } from "./read_header.ts";
 * import assert from "node:assert/strict";
 * const bytes = new Uint8Array(24);
 * bytes.set([0x47, 0x47, 0x55, 0x46, 3]);
 * const lengths: number[] = [];
 * const file = await readGrowingHeader((length) => {
 *   lengths.push(length);
 *   const end = Math.min(length, bytes.length);
 *   return Promise.resolve({ bytes: bytes.subarray(0, end), complete: end === bytes.length });
 * }, { first: 8, max: 1024, maxName: "max", totalSize: 24 });
 * assert.equal(file.version, 3);
 * assert.deepEqual(lengths, [8, 32]);
 * ```
 */
export async function readGrowingHeader(
  prefix: (length: number) => Promise<Prefix>,
  options: GrowingHeaderOptions,
): Promise<GgufFile> {
  let want = Math.min(options.first, options.max);
  for (;;) {
    const { bytes, complete } = await prefix(want);
    if (complete && bytes.length === 0 && options.inputName !== undefined) {
      throw new GgufError(
        "TRUNCATED",
        `Cannot read the header: ${options.inputName} is empty (0 bytes)`,
        0,
      );
    }
    try {
      return parseGgufHeader(bytes, complete, options.totalSize, options);
    } catch (error) {
      if (!(error instanceof NeedMoreBytes)) throw error;
      if (error.end > options.max || want >= options.max) {
        throw new GgufError(
          "LIMIT_EXCEEDED",
          `Cannot read the header: it needs more than ${
            formatInteger(options.max)
          } bytes (raise ${options.maxName} if the model really has such metadata)`,
          bytes.length,
        );
      }
      want = Math.min(options.max, Math.max(error.end, want * GROWTH));
    }
  }
}
