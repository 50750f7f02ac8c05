/**
 * K-quant edge cases (Q2_K, Q4_K, Q5_K) against bytes that ggml's own C wrote: each super-block
 * below was quantized by `quantize_row_q2_K_ref`, `quantize_row_q4_K_ref` and
 * `quantize_row_q5_K_ref` from ggml's `src/ggml-quants.c` (commit d99724f, the fixtures' ggml;
 * `gcc -O2` on x86-64, as `ggml_quantize_chunk` runs them without an importance matrix).
 * The weights are built with exact arithmetic, so every runtime feeds the same floats.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { quantizeRowQ2K } from "../src/convert/quant/q2_k.ts";
import { quantizeRowQ4K } from "../src/convert/quant/q4_k.ts";
import { quantizeRowQ5K } from "../src/convert/quant/q5_k.ts";
import { nearestInt } from "../src/convert/quant/_k_quant_search.ts";

/** A weight pattern that is exact in float32 on every engine: (37 i mod 64 − 32) / 16. */
function pattern(i: number): number {
  return (((37 * i) % 64) - 32) / 16;
}

/** 256-weight super-blocks, each built from exact arithmetic only. */
const CASES: Record<string, () => Float32Array> = {
  "all zero": () => new Float32Array(256),
  "one outlier among small weights": () => {
    const x = new Float32Array(256).map((_, i) => pattern(i) / 64);
    x[77] = 40;
    return x;
  },
  "all negative": () => new Float32Array(256).map((_, i) => -1 - ((13 * i) % 29) / 8),
  "all positive, constant and signed runs": () =>
    new Float32Array(256).map((_, i) => {
      const run = i >> 5;
      if (run === 1) return 0.75; // max == min after min is clamped to 0
      if (run === 2) return -0.5; // constant negative: max == min
      return run % 2 === 0 ? Math.abs(pattern(i)) : pattern(i);
    }),
  "subnormal weights (the half scales underflow to zero)": () =>
    new Float32Array(256).map((_, i) => pattern(i) * 2 ** -127),
  "weights of 2^-40 (zero half scales, the search's quants stay)": () =>
    new Float32Array(256).map((_, i) => pattern(i) * 2 ** -40),
  "tiny weights (subnormal half scales)": () =>
    new Float32Array(256).map((_, i) => pattern(i) * 2 ** -20),
  "NaN inside a run, NaN first in a run": () => {
    const x = new Float32Array(256).map((_, i) => pattern(i));
    x[5] = NaN;
    x[64] = NaN;
    x[200] = NaN;
    return x;
  },
  "+Inf and -Inf": () => {
    const x = new Float32Array(256).map((_, i) => pattern(i));
    x[40] = Infinity;
    x[150] = -Infinity;
    return x;
  },
  "weights near the float32 maximum": () =>
    new Float32Array(256).map((_, i) => pattern(i) * 2 ** 122),
};

/** ggml's bytes per case and type, as hex in 32-byte lines. */
const EXPECTED: Record<string, Record<"Q2_K" | "Q4_K" | "Q5_K", string[]>> = {
  "all zero": {
    Q2_K: [
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0000000000000000000000000000000000000000",
    ],
    Q4_K: [
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0000000000000000000000000000000000000000000000000000000000000000",
      "00000000000000000000000000000000",
    ],
    Q5_K: [
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0000000000000000000000000000000000000000000000000000000000000000",
      "00000000000000000000000000000000",
    ],
  },
  "one outlier among small weights": {
    Q2_K: [
      "e0e0f0f03fe0f0f0e0e0f0f0e0e0f0f044028846cd47cd88028847cd47228802",
      "9977ddbb228866dd77dd88228866dd7744228866dd77dd88228877dd77228822",
      "9977ddbb228866dd77dd88228866dd77563d6717",
    ],
    Q4_K: [
      "ce29fc0f00003f00fffdc1fdf0d0f0d08019a23bd56df78129b34cd57e08912a",
      "c45ce67f18a23bc46df78019b34bd56e8010a030d060f08020b040d0700e9020",
      "c050e07010a030c060f08010b040d0608019a23bd56df78129b34cd57e08912a",
      "c45ce67f18a23bc46df78019b34bd56e8019a23bd56df78129b34cd57e08912a",
      "c45ce67f18a23bc46df78019b34bd56e",
    ],
    Q5_K: [
      "6b25061000003f00fffec1fef0e0f0e0aa51aa51aa51aaaa51aa51aa5155aa51",
      "aa51aa5151aa51aa51aaaa51aa51aa5100225577aaccff11446699bbee003355",
      "88aaddff22447799ccee11336688bbdd00205070a0c0f010406090b0e00e3050",
      "80a0d0f020407090c0e010306080b0d000225577aaccff11446699bbee003355",
      "88aaddff22447799ccee11336688bbdd00225577aaccff11446699bbee003355",
      "88aaddff22447799ccee11336688bbdd",
    ],
  },
  "all negative": {
    Q2_K: [
      "edeeedecfeedfdedfdeffeedeefdedefdbb21cb62cc76dcb71dbb218b62cc66d",
      "cb61cb71dcb21cb62cc76dcb71dbb21cb61c872dcb61cb72d8b61cb72dcb6dcb",
      "71db721cb62c862dcb71db7118b62c862c2caf34",
    ],
    Q4_K: [
      "0e1ca22cffffffffffffffffffffffff9e38b149c36be47c169e27a149c25ad4",
      "7c058d27a038b25ad36be58d169e38b1e47c169e27a149c25ad47c058d27a038",
      "b25ad36be58d169e38b149c36be47c1649c25ad47c058d27a038b25ad36be58d",
      "169e38b149c36be47c169e27a149c25a8d27a038b25ad36be58d169e38b149c3",
      "6be47c169e27a149c25ad47c058d27a0",
    ],
    Q5_K: [
      "3c178d2cffffffffffffffffffffffffdb2d926d9649b64ba4db25d26d9269b6",
      "49b4db24da6d926db649b65b24db2d924f517294b5c7e90b1c3e406183a4b6d8",
      "ea0b2d3e507293a5c7d9fa1c2d4f5172e90b1c3e406183a4b6d8ea0b2d3e5072",
      "93a5c7d9fa1c2d4f517294b5c7e90b1c83a4b6d8ea0b2d3e507293a5c7d9fa1c",
      "2d4f517294b5c7e90b1c3e406183a4b62d3e507293a5c7d9fa1c2d4f517294b5",
      "c7e90b1c3e406183a4b6d8ea0b2d3e50",
    ],
  },
  "all positive, constant and signed runs": {
    Q2_K: [
      "080903034040ffff0809ffff0809ffff8f0d8e4ecd4fcc8f0d8e4ecd4f0c8f0d",
      "8e4ecd8f0c8e4dcd4ecc8f0d8e4ecd4fbb11aa66dd77ccbb11aa66dd7700bb11",
      "aa66ddbb00aa55dd66ccbb11aa66dd77b62c672f",
    ],
    Q4_K: [
      "131cc427a1cd80ff00c010ff01ff01fffff2faf7f6fcf1fef4f9f9f4fdf0fcf5",
      "f8faf3fff2fbf7f6fbf1fef3faf8f5fd8010a030d060f08020b040d070009020",
      "c050e07010a030c060f08010b040d0608f12aa37d66cf18e24b949d47d009c25",
      "c85ae37f12ab37c66bf18e13ba48d56d8f12aa37d66cf18e24b949d47d009c25",
      "c85ae37f12ab37c66bf18e13ba48d56d",
    ],
    Q5_K: [
      "0a18f427a0cc80ff00c010ff00ff00fffb02fb02aa53aafb02fb53aa5302fb02",
      "fb53aa5302fb02aa53aafb02fb53aa53fff5f6fffcf9f2fdf8f3f2f9fcf1fafb",
      "f0f5f6fff4f7fefdf8f3fef7f4f1fafb00205070a0c0f010406090b0e0003050",
      "80a0d0f020407090c0e010306080b0d00f25567facc9f21d486392b9ec013a5b",
      "80a5d6ff24477e9dc8e31e376481badb0f25567facc9f21d486392b9ec013a5b",
      "80a5d6ff24477e9dc8e31e376481badb",
    ],
  },
  "subnormal weights (the half scales underflow to zero)": {
    Q2_K: [
      "0000000000000000000000000000000088228866dd77ee88229966dd77228822",
      "9977dd772288669977dd88228866dd7788228866dd77ee88229966dd77228822",
      "9977dd772288669977dd88228866dd7700000000",
    ],
    Q4_K: [
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0000000000000000000000000000000000000000000000000000000000000000",
      "00000000000000000000000000000000",
    ],
    Q5_K: [
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0000000000000000000000000000000000000000000000000000000000000000",
      "00000000000000000000000000000000",
    ],
  },
  "weights of 2^-40 (zero half scales, the search's quants stay)": {
    Q2_K: [
      "efefffffefefffffefefffffefefffff44228866dd77dd88228877dd77228822",
      "9977ddbb228866dd77dd88228866dd7744228866dd77dd88228877dd77228822",
      "9977ddbb228866dd77dd88228866dd7700000000",
    ],
    Q4_K: [
      "00000000fffcfffcfffdfffdffdcffdc8019a23bd56df78129b34cd57e08912a",
      "c45ce67f18a23bc46df78019b34bd56e8019a23bd56df78129b34cd57e08912a",
      "c45ce67f18a23bc46df78019b34bd56e8019a23bd56df78129b34cd57e08912a",
      "c45ce67f18a23bc46df78019b34bd56e8019a23bd56df78129b34cd57e08912a",
      "c45ce67f18a23bc46df78019b34bd56e",
    ],
    Q5_K: [
      "00000000fffefffefffefffeffeeffeeaa55aa55aa55aaaa55aa55aa5555aa55",
      "aa55aa5555aa55aa55aaaa55aa55aa5500225577aaccff11446699bbee003355",
      "88aaddff22447799ccee11336688bbdd00225577aaccff11446699bbee003355",
      "88aaddff22447799ccee11336688bbdd00225577aaccff11446699bbee003355",
      "88aaddff22447799ccee11336688bbdd00225577aaccff11446699bbee003355",
      "88aaddff22447799ccee11336688bbdd",
    ],
  },
  "tiny weights (subnormal half scales)": {
    Q2_K: [
      "efefffffefefffffefefffffefefffff8822cc77ddbbee8822dd77ddbb228877",
      "dd77ddbb22cc77dd77ee8822dd77ddbb8822cc77ddbbee8822dd77ddbb228877",
      "dd77ddbb22cc77dd77ee8822dd77ddbb01000200",
    ],
    Q4_K: [
      "00000000fffcfffcfffdfffdffdcffdc8019a23bd56df78129b34cd57e08912a",
      "c45ce67f18a23bc46df78019b34bd56e8019a23bd56df78129b34cd57e08912a",
      "c45ce67f18a23bc46df78019b34bd56e8019a23bd56df78129b34cd57e08912a",
      "c45ce67f18a23bc46df78019b34bd56e8019a23bd56df78129b34cd57e08912a",
      "c45ce67f18a23bc46df78019b34bd56e",
    ],
    Q5_K: [
      "00000100fffefffefffefffeffeeffeeaa55aa55aa55aaaa55aa55aa5555aa55",
      "aa55aa5555aa55aa55aaaa55aa55aa5500225577aaccff11446699bbee003355",
      "88aaddff22447799ccee11336688bbdd00225577aaccff11446699bbee003355",
      "88aaddff22447799ccee11336688bbdd00225577aaccff11446699bbee003355",
      "88aaddff22447799ccee11336688bbdd00225577aaccff11446699bbee003355",
      "88aaddff22447799ccee11336688bbdd",
    ],
  },
  "NaN inside a run, NaN first in a run": {
    Q2_K: [
      "ffcddddd00cdddddcdcdddddffcddddd88028846cd44cd88028947cd47028802",
      "dd77ddbb228866dd77dd88228866dd7788228866dd77dd88029877dd77228822",
      "dd77ddbb228866dd77dd88228866dd77552d4430",
    ],
    Q4_K: [
      "4d1c1028fefcc0fcfffcc0fcefccfecc8019a23bd560f7812ab34cd67e08912a",
      "c45de67f19a23bc56df78019b34cd56e8010a030d060f08020b040d070009020",
      "c050e07010a030c060f08010b040d0608019a23bd56df78129b34cd57e08912a",
      "c45ce67f18a23bc46df78019b34bd56e8019a23bd56ef78120b34cd67e08912a",
      "c45de67f19a23bc56df78019b34cd56e",
    ],
    Q5_K: [
      "21181028fffec0fefffec0feeeeeffeeaa51aa51aa50aaaa11aa51aa5151aa51",
      "aa51aa5151aa51aa51aaaa51aa51aa5100225577aac0ff11446699bbee003355",
      "88aaddff22447799ccee11336688bbdd00205070a0c0f010406090b0e0003050",
      "80a0d0f020407090c0e010306080b0d000225577aaccff11446699bbee003355",
      "88aaddff22447799ccee11336688bbdd00225577aaccff11406699bbee003355",
      "88aaddff22447799ccee11336688bbdd",
    ],
  },
  "+Inf and -Inf": {
    Q2_K: [
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0000000000000000000000000000000000000000000000000000000000000000",
      "00000000000000000000000000000000007c007c",
    ],
    Q4_K: [
      "007c007c00000000000000000000000000000000000000000000000000000000",
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0000000000000000000000000000000000000000000000000000000000000000",
      "00000000000000000000000000000000",
    ],
    Q5_K: [
      "007c007c00000000000000000000000000000000000000000000000000000000",
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0000000000000000000000000000000000000000000000000000000000000000",
      "00000000000000000000000000000000",
    ],
  },
  "weights near the float32 maximum": {
    Q2_K: [
      "ffefffdeffefffdeffefffdeffefffde00000000000000000000000000000000",
      "0000000000000000000000000000000000000000000000000000000000000000",
      "00000000000000000000000000000000007c007c",
    ],
    Q4_K: [
      "007c007cfffdfffdfffdfffdffddffdd00000000000000000000000000000000",
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0000000000000000000000000000000000000000000000000000000000000000",
      "00000000000000000000000000000000",
    ],
    Q5_K: [
      "007c007cfffdfffdfffdfffdffddffdd00000000000000000000000000000000",
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0000000000000000000000000000000000000000000000000000000000000000",
      "00000000000000000000000000000000",
    ],
  },
};

const KERNELS = [
  { type: "Q2_K", bytes: 84, kernel: quantizeRowQ2K },
  { type: "Q4_K", bytes: 144, kernel: quantizeRowQ4K },
  { type: "Q5_K", bytes: 176, kernel: quantizeRowQ5K },
] as const;

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

for (const [name, make] of Object.entries(CASES)) {
  test(`Q2_K, Q4_K and Q5_K write ggml's bytes for a super-block: ${name}`, () => {
    const x = make();
    for (const { type, bytes, kernel } of KERNELS) {
      const dst = new Uint8Array(bytes).fill(0xa5);
      kernel(x, dst, 1);
      assert.equal(hex(dst), EXPECTED[name][type].join(""), type);
    }
  });
}

test("Q2_K, Q4_K and Q5_K write every super-block of a row at its own offset", () => {
  const names = Object.keys(CASES);
  const x = new Float32Array(256 * names.length);
  names.forEach((name, b) => x.set(CASES[name](), 256 * b));
  for (const { type, bytes, kernel } of KERNELS) {
    const dst = new Uint8Array(bytes * names.length + 1).fill(0xa5);
    kernel(x, dst, names.length);
    assert.equal(
      hex(dst.subarray(0, -1)),
      names.map((name) => EXPECTED[name][type].join("")).join(""),
      type,
    );
    assert.equal(dst[dst.length - 1], 0xa5, `${type} writes past its blocks`);
  }
});

test("nearestInt() is ggml's nearest_int: halves to even, C's bit reading out of range", () => {
  // Each value is what ggml's `nearest_int`, compiled with gcc -O2 on x86-64, returns.
  assert.equal(nearestInt(0.5), 0);
  assert.equal(nearestInt(1.5), 2);
  assert.equal(nearestInt(-2.5), -2);
  assert.equal(nearestInt(-0), 0);
  assert.equal(nearestInt(4194303), 4194303);
  // 4194303.5 + 12582912 rounds to 2^24, whose mantissa bits are zero.
  assert.equal(nearestInt(4194303.5), -4194304);
  assert.equal(nearestInt(Infinity), -4194304);
  assert.equal(nearestInt(-Infinity), -4194304);
  assert.equal(nearestInt(NaN), 0);
});
