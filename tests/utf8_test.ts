import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeUtf8 } from "../src/format/utf8.ts";

const reference = new TextDecoder("utf-8", { ignoreBOM: true });

function check(bytes: number[]): void {
  const array = Uint8Array.from(bytes);
  assert.equal(decodeUtf8(array, 0, array.length), reference.decode(array), JSON.stringify(bytes));
}

test("decodeUtf8() equals TextDecoder on well-formed and ill-formed edge cases", () => {
  const cases = [
    [],
    [0x41, 0x00, 0x42],
    [0xef, 0xbb, 0xbf, 0x41], // BOM kept
    [0xc4, 0xa0, 0x74, 0x68, 0x65], // "Ġthe"
    [0xe6, 0x9d, 0x83, 0xe9, 0x87, 0x8d], // 权重
    [0xf0, 0x9f, 0x98, 0x80], // 😀
    [0xc0, 0x80], // overlong NUL
    [0xc1, 0xbf],
    [0xe0, 0x80, 0x80], // overlong
    [0xed, 0xa0, 0x80], // surrogate
    [0xf4, 0x90, 0x80, 0x80], // past U+10FFFF
    [0xf5, 0x80, 0x80, 0x80],
    [0xe6, 0x9d], // truncated
    [0xf0, 0x9f, 0x98],
    [0x80],
    [0xff, 0xfe],
    [0xc4],
  ];
  for (const bytes of cases) check(bytes);
});

test("decodeUtf8() equals TextDecoder on random short byte strings", () => {
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const pool = [
    0x00,
    0x41,
    0x7f,
    0x80,
    0x9f,
    0xa0,
    0xbf,
    0xc2,
    0xdf,
    0xe0,
    0xed,
    0xef,
    0xf0,
    0xf4,
    0xf5,
    0xff,
  ];
  for (let i = 0; i < 20000; i++) {
    const length = Math.floor(random() * 10);
    const bytes: number[] = [];
    for (let k = 0; k < length; k++) {
      bytes.push(
        random() < 0.5 ? pool[Math.floor(random() * pool.length)] : Math.floor(random() * 256),
      );
    }
    check(bytes);
  }
});
