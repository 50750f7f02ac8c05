import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeUtf8, encodeUtf8Into, hasRawBytes, stringBytes } from "../src/format/utf8.ts";

const strict = new TextDecoder("utf-8", { ignoreBOM: true, fatal: true });

/** The well-formed decoding, or `undefined` for bytes that are not UTF-8. */
function wellFormed(array: Uint8Array): string | undefined {
  try {
    return strict.decode(array);
  } catch {
    return undefined;
  }
}

/** Decoding equals TextDecoder on UTF-8, escapes the rest, and gives the bytes back. */
function check(bytes: number[]): void {
  const array = Uint8Array.from(bytes);
  const text = decodeUtf8(array, 0, array.length);
  const what = JSON.stringify(bytes);
  const utf8 = wellFormed(array);
  if (utf8 !== undefined) assert.equal(text, utf8, what);
  assert.equal(hasRawBytes(text), utf8 === undefined, what);
  assert.deepEqual([...stringBytes(text)], bytes, what);
}

test("decodeUtf8() equals TextDecoder on UTF-8 and keeps every other byte", () => {
  const cases = [
    [],
    [0x41, 0x00, 0x42], // a NUL inside
    [0x00],
    [0xef, 0xbb, 0xbf, 0x41], // BOM kept
    [0xc4, 0xa0, 0x74, 0x68, 0x65], // "Ġthe"
    [0xe6, 0x9d, 0x83, 0xe9, 0x87, 0x8d], // 权重
    [0xf0, 0x9f, 0x98, 0x80], // 😀
    [0xef, 0xbf, 0xbd], // a real U+FFFD
    [0xc0, 0x80], // overlong NUL
    [0xc1, 0xbf],
    [0xe0, 0x80, 0x80], // overlong
    [0xed, 0xa0, 0x80], // CESU surrogate
    [0xed, 0xa0, 0x80, 0xed, 0xb0, 0x80], // a CESU pair
    [0xf4, 0x90, 0x80, 0x80], // past U+10FFFF
    [0xf5, 0x80, 0x80, 0x80],
    [0xe6, 0x9d], // truncated
    [0xe2, 0x82],
    [0xf0, 0x9f, 0x98],
    [0x80],
    [0xff, 0xfe],
    [0xc4],
    [0xef, 0xbf, 0xbd, 0xff], // U+FFFD beside a raw byte
  ];
  for (const bytes of cases) check(bytes);
  // Long strings take TextDecoder's path: the same results.
  for (const bytes of cases) check([...new Array(100).fill(0x61), ...bytes, 0x62]);
});

test("decodeUtf8() keeps strings that differ only in invalid bytes distinct", () => {
  const a = Uint8Array.of(0xff);
  const b = Uint8Array.of(0xfe);
  assert.notEqual(decodeUtf8(a, 0, 1), decodeUtf8(b, 0, 1));
  assert.equal(decodeUtf8(a, 0, 1), "\udcff");
  const cut = Uint8Array.of(0xe2, 0x82);
  assert.equal(decodeUtf8(cut, 0, 2), "\udce2\udc82");
});

test("decodeUtf8() round-trips random byte strings, short and long", () => {
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const pool = [0x00, 0x41, 0x7f, 0x80, 0x9f, 0xa0, 0xbf, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0];
  pool.push(0xf4, 0xf5, 0xff);
  for (let i = 0; i < 20000; i++) {
    const length = Math.floor(random() * (i % 10 === 0 ? 200 : 10));
    const bytes: number[] = [];
    for (let k = 0; k < length; k++) {
      bytes.push(
        random() < 0.5 ? pool[Math.floor(random() * pool.length)] : Math.floor(random() * 256),
      );
    }
    check(bytes);
  }
});

test("encodeUtf8Into() writes other lone surrogates as U+FFFD, as TextEncoder does", () => {
  const out = new Uint8Array(300);
  for (const text of ["\ud800", "x\udc7f", "\udd00y", "\udbff"]) {
    for (const padded of [text, "a".repeat(100) + text]) {
      const n = encodeUtf8Into(padded, out, 0);
      assert.deepEqual(out.subarray(0, n), new TextEncoder().encode(padded));
    }
  }
  assert.deepEqual([...stringBytes("😀\udc80")], [0xf0, 0x9f, 0x98, 0x80, 0x80]);
});
