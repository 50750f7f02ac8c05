/**
 * How many bytes one `write` call into a file takes at most.
 *
 * @module
 */

/**
 * Bytes per `write` call into a file, at most. A longer write can cover a whole
 * 2 MiB-aligned range of the file, for which Linux's page cache takes a 2 MiB folio;
 * getting one can cost many times the copy itself (on virtual machines that hand free
 * memory back to their host), while writes of 1 MiB, as `dd bs=1M` makes, never ask for
 * one. More calls cost next to nothing beside the bytes they copy.
 *
 * @example
 * ```ts
 * import { WRITE_PIECE_BYTES } from "./write_piece.ts";
 * import assert from "node:assert/strict";
 * assert.equal(WRITE_PIECE_BYTES, 1 << 20);
 * ```
 */
export const WRITE_PIECE_BYTES = 1 << 20;
