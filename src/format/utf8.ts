/**
 * GGUF strings are byte strings: ggml never checks that they are UTF-8, and real
 * vocabularies hold byte tokens and partial sequences. They are decoded here into
 * JavaScript strings that keep every byte: well-formed UTF-8 decodes as `TextDecoder`
 * does, and each byte that is not part of a well-formed sequence becomes the lone
 * surrogate U+DC00 + byte (U+DC80–U+DCFF, as Python's `surrogateescape`). Well-formed
 * UTF-8 never decodes to a lone surrogate, so the mapping is one to one, and encoding
 * turns each such surrogate back into its byte: a string read from a file is written back
 * byte for byte, and two strings that differ only in invalid bytes stay distinct.
 *
 * Short strings are decoded without a `TextDecoder` call per string (which costs more than
 * the decoding itself for the 100k+ short tokens of a vocabulary); encoding writes into a
 * caller's buffer, allocating nothing per string.
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

/** The first lone surrogate that stands for a byte (U+DC00 + 0x80). */
const ESCAPE_FIRST = 0xdc80;
/** The last one (U+DC00 + 0xFF). */
const ESCAPE_LAST = 0xdcff;

/**
 * Decodes `bytes[start, end)` as a GGUF string: well-formed UTF-8 exactly as `TextDecoder`
 * with `ignoreBOM: true`, every other byte as the lone surrogate U+DC00 + byte.
 *
 * @param bytes The buffer.
 * @param start The string's first byte.
 * @param end One past its last byte.
 * @returns The string, from which {@linkcode encodeUtf8Into} gives back the same bytes.
 *
 * @example Byte tokens survive
 * ```ts
 * import { decodeUtf8 } from "./utf8.ts";
 * import assert from "node:assert/strict";
 * const bytes = new Uint8Array([0x61, 0xff, 0xc3, 0xa9]);
 * assert.equal(decodeUtf8(bytes, 0, 4), "a\udcffé");
 * ```
 */
export function decodeUtf8(bytes: Uint8Array, start: number, end: number): string {
  const length = end - start;
  if (length > FAST_LIMIT) {
    const text = decoder.decode(bytes.subarray(start, end));
    // The decoder writes U+FFFD for what is not UTF-8 (the file may also hold U+FFFD).
    return text.includes("\ufffd") ? decodeEscaped(bytes, start, end) : text;
  }
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
  if (i < end) return decodeEscaped(bytes, start, end);
  const out = exact[n];
  for (let k = 0; k < n; k++) out[k] = units[k];
  return String.fromCharCode.apply(null, out);
}

/**
 * The length of the well-formed UTF-8 sequence at `bytes[i]` (1–4), or 0 when the byte
 * there does not start one that ends before `end` (the Unicode standard's table 3-7).
 */
function sequenceLength(bytes: Uint8Array, i: number, end: number): number {
  const b0 = bytes[i];
  if (b0 < 0x80) return 1;
  const trail = (k: number, low = 0x80, high = 0xbf) =>
    i + k < end && bytes[i + k] >= low && bytes[i + k] <= high;
  if (b0 >= 0xc2 && b0 <= 0xdf) return trail(1) ? 2 : 0;
  if (b0 >= 0xe0 && b0 <= 0xef) {
    const low = b0 === 0xe0 ? 0xa0 : 0x80;
    const high = b0 === 0xed ? 0x9f : 0xbf;
    return trail(1, low, high) && trail(2) ? 3 : 0;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const low = b0 === 0xf0 ? 0x90 : 0x80;
    const high = b0 === 0xf4 ? 0x8f : 0xbf;
    return trail(1, low, high) && trail(2) && trail(3) ? 4 : 0;
  }
  return 0;
}

/** UTF-16 code units gathered before each `String.fromCharCode` call of the slow path. */
const SLOW_UNITS = 4096;

/** The slow path: well-formed sequences decoded, every other byte escaped. */
function decodeEscaped(bytes: Uint8Array, start: number, end: number): string {
  const parts: string[] = [];
  let units: number[] = [];
  for (let i = start; i < end;) {
    const n = sequenceLength(bytes, i, end);
    if (n === 0) {
      units.push(0xdc00 + bytes[i]);
      i++;
    } else if (n === 1) {
      units.push(bytes[i++]);
    } else {
      const text = decoder.decode(bytes.subarray(i, i + n));
      for (let k = 0; k < text.length; k++) units.push(text.charCodeAt(k));
      i += n;
    }
    if (units.length >= SLOW_UNITS) {
      parts.push(String.fromCharCode.apply(null, units));
      units = [];
    }
  }
  parts.push(String.fromCharCode.apply(null, units));
  return parts.join("");
}

/**
 * Whether a string holds bytes that are not UTF-8 (as lone surrogates U+DC80–U+DCFF).
 *
 * @param text A string read from a GGUF file.
 * @returns `true` when {@linkcode encodeUtf8Into} writes some character as a raw byte.
 *
 * @example
 * ```ts
 * import { decodeUtf8 } from "./utf8.ts";
 * import { hasRawBytes } from "gguf-stream";
 * import assert from "node:assert/strict";
 * assert.equal(hasRawBytes(decodeUtf8(new Uint8Array([0xfe]), 0, 1)), true);
 * assert.equal(hasRawBytes("Ġhello 😀"), false);
 * ```
 */
export function hasRawBytes(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c <= 0xdbff) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++; // a pair
      continue;
    }
    if (c >= ESCAPE_FIRST && c <= ESCAPE_LAST) return true;
  }
  return false;
}

/**
 * The bytes a GGUF string stands for: UTF-8, with each lone surrogate U+DC80–U+DCFF
 * written as the byte it escapes. The inverse of {@linkcode decodeUtf8}.
 *
 * @param text A string, e.g. a metadata value or a tensor name read by gguf-stream.
 * @returns Its bytes, as the file holds them.
 *
 * @example
 * ```ts
 * import { stringBytes } from "gguf-stream";
 * import assert from "node:assert/strict";
 * assert.deepEqual([...stringBytes("a\udcffé")], [0x61, 0xff, 0xc3, 0xa9]);
 * ```
 */
export function stringBytes(text: string): Uint8Array {
  const bytes = new Uint8Array(3 * text.length);
  return bytes.slice(0, encodeUtf8Into(text, bytes, 0));
}

/** Whether `text` holds a surrogate code unit, paired or not. */
const SURROGATE = /[\ud800-\udfff]/;

const encoder = new TextEncoder();

/**
 * Encodes a GGUF string into `bytes` at `at`: UTF-8 as `TextEncoder` writes it, except that
 * a lone surrogate U+DC80–U+DCFF is written as the byte it escapes (other lone surrogates
 * become U+FFFD, as with `TextEncoder`). Allocates nothing: short strings and strings with
 * surrogates are encoded here, other long ones with `encodeInto`. `bytes` must have room
 * for `3 * text.length` bytes at `at`.
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
  if (n > FAST_LIMIT && !SURROGATE.test(text)) {
    return encoder.encodeInto(text, bytes.subarray(at, at + 3 * n)).written;
  }
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
      } else if (c >= ESCAPE_FIRST && c <= ESCAPE_LAST) {
        bytes[p++] = c - 0xdc00; // a byte that is not UTF-8, kept as it was
      } else {
        bytes[p++] = 0xef; // U+FFFD for another lone surrogate
        bytes[p++] = 0xbf;
        bytes[p++] = 0xbd;
      }
    }
  }
  return p - at;
}
