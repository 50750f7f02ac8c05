/**
 * Exact UTF-8 decoding of short strings without a `TextDecoder` call per string (which
 * costs more than the decoding itself for the 100k+ short tokens of a vocabulary).
 * Well-formed UTF-8 has exactly one decoding, so the fast path returns exactly what
 * `TextDecoder` would; anything else (ill-formed bytes, long strings) goes to
 * `TextDecoder`, keeping its replacement behaviour. Encoding writes into a caller's
 * buffer, allocating nothing per string.
 *
 * @module
 */

const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/** Strings up to this many bytes take the fast path. */
const FAST_LIMIT = 64;

/**
 * The fast path's UTF-16 code units (at most one per byte), reused for every string, and
 * arrays of each exact length to hand them to one `String.fromCharCode` call: that makes
 * a flat string, where appending characters one by one makes a rope that JavaScriptCore
 * keeps as a node per character (about 250 bytes for a short token instead of 40).
 */
const units: number[] = new Array(FAST_LIMIT).fill(0);
const exact: number[][] = Array.from({ length: FAST_LIMIT + 1 }, (_, n) => new Array(n).fill(0));

/** Decodes `bytes[start, end)` as UTF-8, exactly as `TextDecoder` with `ignoreBOM: true`. */
export function decodeUtf8(bytes: Uint8Array, start: number, end: number): string {
  const length = end - start;
  if (length > FAST_LIMIT) return decoder.decode(bytes.subarray(start, end));
  let n = 0;
  let i = start;
  while (i < end) {
    const b0 = bytes[i];
    if (b0 < 0x80) {
      units[n++] = b0;
      i++;
      continue;
    }
    let code: number;
    if (b0 >= 0xc2 && b0 <= 0xdf && i + 1 < end) {
      const b1 = bytes[i + 1];
      if ((b1 & 0xc0) !== 0x80) break;
      code = ((b0 & 0x1f) << 6) | (b1 & 0x3f);
      i += 2;
    } else if (b0 >= 0xe0 && b0 <= 0xef && i + 2 < end) {
      const b1 = bytes[i + 1];
      const b2 = bytes[i + 2];
      const low = b0 === 0xe0 ? 0xa0 : 0x80;
      const high = b0 === 0xed ? 0x9f : 0xbf;
      if (b1 < low || b1 > high || (b2 & 0xc0) !== 0x80) break;
      code = ((b0 & 0x0f) << 12) | ((b1 & 0x3f) << 6) | (b2 & 0x3f);
      i += 3;
    } else if (b0 >= 0xf0 && b0 <= 0xf4 && i + 3 < end) {
      const b1 = bytes[i + 1];
      const b2 = bytes[i + 2];
      const b3 = bytes[i + 3];
      const low = b0 === 0xf0 ? 0x90 : 0x80;
      const high = b0 === 0xf4 ? 0x8f : 0xbf;
      if (b1 < low || b1 > high || (b2 & 0xc0) !== 0x80 || (b3 & 0xc0) !== 0x80) break;
      code = ((b0 & 0x07) << 18) | ((b1 & 0x3f) << 12) | ((b2 & 0x3f) << 6) | (b3 & 0x3f);
      i += 4;
      code -= 0x10000;
      units[n++] = 0xd800 + (code >> 10);
      units[n++] = 0xdc00 + (code & 0x3ff);
      continue;
    } else {
      break;
    }
    units[n++] = code;
  }
  if (i < end) return decoder.decode(bytes.subarray(start, end));
  const out = exact[n];
  for (let k = 0; k < n; k++) out[k] = units[k];
  return String.fromCharCode.apply(null, out);
}

const encoder = new TextEncoder();

/**
 * Encodes `text` as UTF-8 into `bytes` at `at`, exactly as `TextEncoder` does (a lone
 * surrogate becomes U+FFFD), without allocating: short strings are encoded here, long
 * ones with `encodeInto`. `bytes` must have room for `3 * text.length` bytes at `at`.
 *
 * @param text The string.
 * @param bytes The buffer to write into.
 * @param at Where to start writing.
 * @returns The number of bytes written.
 *
 * @example
 * ```ts
 * import { encodeUtf8Into } from "./utf8.ts";
 * import assert from "node:assert/strict";
 * const bytes = new Uint8Array(12);
 * assert.equal(encodeUtf8Into("Ġ😀", bytes, 0), 6);
 * assert.deepEqual([...bytes.subarray(0, 6)], [0xc4, 0xa0, 0xf0, 0x9f, 0x98, 0x80]);
 * ```
 */
export function encodeUtf8Into(text: string, bytes: Uint8Array, at: number): number {
  const n = text.length;
  if (n > FAST_LIMIT) return encoder.encodeInto(text, bytes.subarray(at, at + 3 * n)).written;
  let p = at;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      bytes[p++] = c;
    } else if (c < 0x800) {
      bytes[p++] = 0xc0 | (c >> 6);
      bytes[p++] = 0x80 | (c & 0x3f);
    } else if (c < 0xd800 || c > 0xdfff) {
      bytes[p++] = 0xe0 | (c >> 12);
      bytes[p++] = 0x80 | ((c >> 6) & 0x3f);
      bytes[p++] = 0x80 | (c & 0x3f);
    } else {
      const d = i + 1 < n ? text.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
        const code = 0x10000 + (c - 0xd800) * 0x400 + (d - 0xdc00);
        bytes[p++] = 0xf0 | (code >> 18);
        bytes[p++] = 0x80 | ((code >> 12) & 0x3f);
        bytes[p++] = 0x80 | ((code >> 6) & 0x3f);
        bytes[p++] = 0x80 | (code & 0x3f);
        i++;
      } else {
        bytes[p++] = 0xef; // U+FFFD for a lone surrogate
        bytes[p++] = 0xbf;
        bytes[p++] = 0xbd;
      }
    }
  }
  return p - at;
}
