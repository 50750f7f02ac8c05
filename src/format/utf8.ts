/**
 * Exact UTF-8 decoding of short strings without a `TextDecoder` call per string (which
 * costs more than the decoding itself for the 100k+ short tokens of a vocabulary).
 * Well-formed UTF-8 has exactly one decoding, so the fast path returns exactly what
 * `TextDecoder` would; anything else (ill-formed bytes, long strings) goes to
 * `TextDecoder`, keeping its replacement behaviour.
 *
 * @module
 */

const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/** Strings up to this many bytes take the fast path. */
const FAST_LIMIT = 64;

/** Decodes `bytes[start, end)` as UTF-8, exactly as `TextDecoder` with `ignoreBOM: true`. */
export function decodeUtf8(bytes: Uint8Array, start: number, end: number): string {
  const length = end - start;
  if (length > FAST_LIMIT) return decoder.decode(bytes.subarray(start, end));
  let out = "";
  let i = start;
  while (i < end) {
    const b0 = bytes[i];
    if (b0 < 0x80) {
      out += String.fromCharCode(b0);
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
      out += String.fromCharCode(0xd800 + (code >> 10), 0xdc00 + (code & 0x3ff));
      continue;
    } else {
      break;
    }
    out += String.fromCharCode(code);
  }
  return i < end ? decoder.decode(bytes.subarray(start, end)) : out;
}
