/**
 * Backing a new buffer's memory in one call: the kernel gives an anonymous page only
 * when it is first touched, one page fault per 4 KiB, and a conversion into memory
 * touches every page of its output once. `madvise(MADV_POPULATE_WRITE)` (Linux 5.14 and
 * later) faults the whole range in at once, without touching the bytes. Only the pages
 * wholly inside the buffer are advised, so no other memory is affected.
 *
 * @module
 */

/** `MADV_POPULATE_WRITE` on Linux. */
const MADV_POPULATE_WRITE = 23;
/**
 * Advised ranges start and end on this boundary, a multiple of every page size Linux
 * uses (4, 16 and 64 KiB), so that `madvise` never sees an unaligned start.
 */
const ALIGN = 64n * 1024n;
/** Smaller buffers are not worth a call. */
export const PREFAULT_MIN_BYTES = 1 << 20;

/** The calls an adapter binds through its FFI. */
export interface PrefaultCalls {
  /** The address of a view's first byte. */
  address(bytes: Uint8Array): bigint;
  /** `madvise(address, length, advice)`. */
  madvise(address: bigint, length: bigint, advice: number): number;
}

/**
 * Asks the kernel to back the pages wholly inside `bytes`; `false` where that cannot be
 * done (no calls, a buffer under {@linkcode PREFAULT_MIN_BYTES}, or a refusal, e.g. a
 * kernel older than 5.14).
 *
 * @param bytes The buffer, freshly allocated.
 * @param calls The bound calls, or `null` where there are none.
 * @returns Whether the advice was taken.
 *
 * @example
 * ```ts
 * import { prefaultWith } from "./_prefault.ts";
 * import assert from "node:assert/strict";
 * const advised: bigint[][] = [];
 * const calls = {
 *   address: () => 0x10000n + 100n, // a buffer starting 100 bytes past a boundary
 *   madvise: (at: bigint, length: bigint, advice: number) => (advised.push([at, length, BigInt(advice)]), 0),
 * };
 * assert.equal(prefaultWith(new Uint8Array(4 << 20), calls), true);
 * assert.deepEqual(advised, [[0x20000n, (4n << 20n) - 0x10000n, 23n]]);
 * assert.equal(prefaultWith(new Uint8Array(1000), calls), false);
 * assert.equal(prefaultWith(new Uint8Array(4 << 20), null), false);
 * ```
 */
export function prefaultWith(bytes: Uint8Array, calls: PrefaultCalls | null): boolean {
  if (calls === null || bytes.byteLength < PREFAULT_MIN_BYTES) return false;
  try {
    const address = calls.address(bytes);
    const start = (address + ALIGN - 1n) / ALIGN * ALIGN;
    const end = (address + BigInt(bytes.byteLength)) / ALIGN * ALIGN;
    if (end <= start) return false;
    return calls.madvise(start, end - start, MADV_POPULATE_WRITE) === 0;
  } catch {
    return false;
  }
}
