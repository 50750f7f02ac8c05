import assert from "node:assert/strict";
import { test } from "node:test";
import { quantize } from "../src/convert/quantize.ts";
import { quantizeRowQ4_1 } from "../src/convert/quant/q4_1.ts";
import { quantizeRowQ5_0 } from "../src/convert/quant/q5_0.ts";
import { quantizeRowQ5_1 } from "../src/convert/quant/q5_1.ts";
import { quantizeRowMxfp4 } from "../src/convert/quant/mxfp4.ts";
import { quantizeRowIq4Nl, quantizeRowIq4Xs } from "../src/convert/quant/iq4.ts";
import { quantizeRowBf16, quantizeRowF16 } from "../src/convert/quant/float.ts";

/**
 * A value: a number, a name of one (`"NaN"`, `"Infinity"`, `"-Infinity"`, `"-0"`) or
 * `"bits:XXXXXXXX"`, an exact float32 bit pattern (NaN payloads, subnormals, ties).
 */
type Value = number | string;

/**
 * One edge case: `n` values, all `fill` (or `ramp[0] + i × ramp[1]`, rounded to float32),
 * then `set`'s. `c` is what ggml's C wrote for them: `quantize_q4_1`, `quantize_q5_0`,
 * `quantize_q5_1`, `quantize_mxfp4`, `quantize_iq4_nl`, `quantize_iq4_xs` (no importance
 * matrix), `GGML_FP32_TO_FP16` and `ggml_compute_fp32_to_bf16` of ggml commit d99724f
 * (`src/ggml-quants.c`, `src/ggml-impl.h`), built with `gcc -O3 -DNDEBUG` for x86-64 and
 * run on these very values.
 */
interface EdgeCase {
  type: string;
  name: string;
  n: number;
  fill: Value;
  ramp?: [number, number];
  set?: Record<string, Value>;
  c: string;
}

const CASES: EdgeCase[] = [
  {
    "type": "Q4_1",
    "name": "all-zero block, first minimum −0",
    "n": 32,
    "fill": 0,
    "set": { "3": "-0" },
    "c": "0000000000000000000000000000000000000000",
  },
  {
    "type": "Q4_1",
    "name": "ramp 0..31 with halfway ties",
    "n": 32,
    "fill": 0,
    "ramp": [0, 0.5],
    "c": "223c000080809191a2a2b3b3c4c4d5d5e6e6f7f7",
  },
  {
    "type": "Q4_1",
    "name": "NaNs are skipped by min and max, quant 0",
    "n": 32,
    "fill": 1,
    "set": { "0": "NaN", "1": -2, "2": 4, "31": "NaN" },
    "c": "663600c080808f88888888888888888888888808",
  },
  {
    "type": "Q4_1",
    "name": "all NaN: min FLT_MAX, d −Inf",
    "n": 32,
    "fill": "NaN",
    "c": "00fc007c00000000000000000000000000000000",
  },
  {
    "type": "Q4_1",
    "name": "all +Inf: d is Inf − Inf, negative NaN",
    "n": 32,
    "fill": "Infinity",
    "c": "007c007c00000000000000000000000000000000",
  },
  {
    "type": "Q4_1",
    "name": "one −Inf: d Inf, quants 0",
    "n": 32,
    "fill": 1,
    "set": { "5": "-Infinity" },
    "c": "007c00fc00000000000000000000000000000000",
  },
  {
    "type": "Q4_1",
    "name": "range beyond float32",
    "n": 32,
    "fill": 1,
    "set": { "0": 3e+38, "1": -3e+38 },
    "c": "007c00fc00000000000000000000000000000000",
  },
  {
    "type": "Q4_1",
    "name": "subnormal d",
    "n": 32,
    "fill": 0,
    "ramp": [0, 5e-39],
    "c": "0000000080809191a2a2b3b3c4c4d5d5e6e6f7f7",
  },
  {
    "type": "Q4_1",
    "name": "1/d overflows: quants 0",
    "n": 32,
    "fill": 0,
    "ramp": [0, 1e-40],
    "c": "0000000000000000000000000000000000000000",
  },
  {
    "type": "Q5_0",
    "name": "all-zero block: d −0, quants 16",
    "n": 32,
    "fill": 0,
    "c": "0080ffffffff00000000000000000000000000000000",
  },
  {
    "type": "Q5_0",
    "name": "ramp −16..15, first max on ties",
    "n": 32,
    "fill": 0,
    "ramp": [-16, 1],
    "c": "003c0000ffff00112233445566778899aabbccddeeff",
  },
  {
    "type": "Q5_0",
    "name": "NaN and Inf",
    "n": 32,
    "fill": 0.25,
    "set": { "2": "NaN", "7": "Infinity", "20": "-Infinity" },
    "c": "00fc7bffefff00000000000000000000000000000000",
  },
  {
    "type": "Q5_0",
    "name": "tiny block: 1/d overflows",
    "n": 32,
    "fill": -1e-38,
    "set": { "4": 0 },
    "c": "00000000000000000000000000000000000000000000",
  },
  {
    "type": "Q5_0",
    "name": "subnormals",
    "n": 32,
    "fill": "bits:80000003",
    "set": { "9": "bits:00000011" },
    "c": "00800000000000000000000000000000000000000000",
  },
  {
    "type": "Q5_1",
    "name": "all-zero block",
    "n": 32,
    "fill": 0,
    "c": "000000000000000000000000000000000000000000000000",
  },
  {
    "type": "Q5_1",
    "name": "ramp with ties",
    "n": 32,
    "fill": 0,
    "ramp": [-3, 0.25],
    "c": "003400c20000ffff00112233445566778899aabbccddeeff",
  },
  {
    "type": "Q5_1",
    "name": "all NaN",
    "n": 32,
    "fill": "NaN",
    "c": "00fc007c0000000000000000000000000000000000000000",
  },
  {
    "type": "Q5_1",
    "name": "all −Inf",
    "n": 32,
    "fill": "-Infinity",
    "c": "007c00fc0000000000000000000000000000000000000000",
  },
  {
    "type": "Q5_1",
    "name": "subnormal d",
    "n": 32,
    "fill": 0,
    "ramp": [0, 5e-39],
    "c": "000000000000ffff00112233445566778899aabbccddeeff",
  },
  {
    "type": "Q5_1",
    "name": "1/d overflows: quants 0",
    "n": 32,
    "fill": 0,
    "ramp": [0, 1e-40],
    "c": "000000000000000000000000000000000000000000000000",
  },
  {
    "type": "MXFP4",
    "name": "all-zero block: e 0",
    "n": 32,
    "fill": 0,
    "c": "0000000000000000000000000000000000",
  },
  {
    "type": "MXFP4",
    "name": "amax just below 16: log2f rounds to 4",
    "n": 32,
    "fill": 1,
    "set": { "0": "bits:417fffff", "17": -3 },
    "c": "8106900000000000000000000000000000",
  },
  {
    "type": "MXFP4",
    "name": "amax just below 2: log2f stays below 1",
    "n": 32,
    "fill": 0.25,
    "set": { "0": "bits:3fffffff" },
    "c": "7d27222222222222222222222222222222",
  },
  {
    "type": "MXFP4",
    "name": "ramp: every E2M1 value and ties",
    "n": 32,
    "fill": 0,
    "ramp": [-6, 0.375],
    "c": "7f0f1f1f2e3e4e4e5d5d5d6c6c6b6a7979",
  },
  {
    "type": "MXFP4",
    "name": "Inf: e 0",
    "n": 32,
    "fill": 1,
    "set": { "3": "Infinity", "4": 1e-38 },
    "c": "0000000000030000000000000000000000",
  },
  {
    "type": "MXFP4",
    "name": "NaN: code 0",
    "n": 32,
    "fill": -2,
    "set": { "0": "NaN" },
    "c": "7ee0eeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
  },
  {
    "type": "MXFP4",
    "name": "amax below 2^-125: e wraps",
    "n": 32,
    "fill": 1e-39,
    "set": { "1": -2e-39 },
    "c": "fc00000000000000000000000000000000",
  },
  {
    "type": "MXFP4",
    "name": "FLT_MAX: products overflow",
    "n": 32,
    "fill": 3.4e+38,
    "set": { "1": -1e+38, "2": 0 },
    "c": "fc777c7077777777777777777777777777",
  },
  {
    "type": "IQ4_NL",
    "name": "all-zero block: scale 0, indices 8",
    "n": 32,
    "fill": 0,
    "c": "000088888888888888888888888888888888",
  },
  {
    "type": "IQ4_NL",
    "name": "ramp",
    "n": 32,
    "fill": 0,
    "ramp": [-1, 0.0625],
    "c": "fa1f809091a1b1b2c2c3d3d4e4e5e5f6f6f7",
  },
  {
    "type": "IQ4_NL",
    "name": "a NaN: scale 0, its index 15",
    "n": 32,
    "fill": 0.5,
    "set": { "6": "NaN", "9": -1 },
    "c": "00008888888888888f888888888888888888",
  },
  {
    "type": "IQ4_NL",
    "name": "an Inf: scale NaN 0xFE00, indices 15",
    "n": 32,
    "fill": 0.5,
    "set": { "6": "Infinity" },
    "c": "00feffffffffffffffffffffffffffffffff",
  },
  {
    "type": "IQ4_NL",
    "name": "below 1e-15: scale 0",
    "n": 32,
    "fill": 9e-16,
    "set": { "2": -9.9e-16 },
    "c": "000088888888888888888888888888888888",
  },
  {
    "type": "IQ4_NL",
    "name": "sums overflow: scale Inf",
    "n": 32,
    "fill": 300000000000000,
    "set": { "2": -100000000000000 },
    "c": "007c88888888888888888888888888888888",
  },
  {
    "type": "IQ4_XS",
    "name": "all-zero super-block",
    "n": 256,
    "fill": 0,
    "c":
      "0080aaaa000000008888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888888",
  },
  {
    "type": "IQ4_XS",
    "name": "groups: ramp, zero, NaN, Inf, tiny, large, negative",
    "n": 256,
    "fill": 0,
    "ramp": [-2, 0.015625],
    "set": {
      "32": 0,
      "40": 0,
      "64": "NaN",
      "100": "Infinity",
      "128": 1e-16,
      "160": 50,
      "200": -70,
      "255": 3,
    },
    "c":
      "69a4a582ff00601010111111111111111121212121212121383232323232323238323232323232338f888888888888888888888888888888888888888f8888888888888888888888888888888888888888888888888888888f8888888888888888888888888888888888888888888888808888888888888812121212121212121111111111111101",
  },
  {
    "type": "F16",
    "name": "ties to even, subnormals, overflow, NaN payloads",
    "n": 12,
    "fill": 0,
    "set": {
      "0": "bits:3f801000",
      "1": "bits:3f803000",
      "2": "bits:33000000",
      "3": "bits:b3000001",
      "4": "bits:387fc000",
      "5": 65519.99609375,
      "6": 65520,
      "7": "-Infinity",
      "8": "bits:ffc00001",
      "9": "bits:7f800001",
      "10": "-0",
      "11": "bits:00000001",
    },
    "c": "003c023c00000180ff03ff7b007c00fc00fe007e00800000",
  },
  {
    "type": "BF16",
    "name": "ties to even, carry to Inf, subnormals, NaN payloads",
    "n": 12,
    "fill": 0,
    "set": {
      "0": "bits:3f808000",
      "1": "bits:3f818000",
      "2": "bits:3f808001",
      "3": "bits:7f7f8000",
      "4": "bits:ff7fffff",
      "5": "bits:00008000",
      "6": "bits:00018000",
      "7": "bits:7f800001",
      "8": "bits:ff812345",
      "9": "bits:7fc00000",
      "10": "-0",
      "11": "Infinity",
    },
    "c": "803f823f813f807f80ff00000200c07fc1ffc07f0080807f",
  },
];

const KERNELS: Record<string, (src: Float32Array, dst: Uint8Array, blocks: number) => void> = {
  Q4_1: quantizeRowQ4_1,
  Q5_0: quantizeRowQ5_0,
  Q5_1: quantizeRowQ5_1,
  MXFP4: quantizeRowMxfp4,
  IQ4_NL: quantizeRowIq4Nl,
  IQ4_XS: quantizeRowIq4Xs,
  F16: quantizeRowF16,
  BF16: quantizeRowBf16,
};

const BLOCK_SIZES: Record<string, number> = { IQ4_XS: 256, F16: 1, BF16: 1 };

function valuesOf(c: EdgeCase): Float32Array {
  const out = new Float32Array(c.n);
  const bits = new Uint32Array(out.buffer);
  const put = (i: number, v: Value) => {
    if (typeof v === "string" && v.startsWith("bits:")) bits[i] = parseInt(v.slice(5), 16);
    else out[i] = typeof v === "string" ? (v === "-0" ? -0 : Number(v)) : v;
  };
  for (let i = 0; i < c.n; i++) {
    if (c.ramp === undefined) put(i, c.fill);
    else out[i] = c.ramp[0] + i * c.ramp[1];
  }
  for (const [i, v] of Object.entries(c.set ?? {})) put(Number(i), v);
  return out;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

for (const type of Object.keys(KERNELS)) {
  test(`${KERNELS[type].name}() writes ggml's bytes for zeros, ties, subnormals, NaN and Inf`, () => {
    const cases = CASES.filter((c) => c.type === type);
    assert.ok(cases.length > 0);
    for (const c of cases) {
      const values = valuesOf(c);
      const blocks = c.n / (BLOCK_SIZES[type] ?? 32);
      const dst = new Uint8Array(c.c.length / 2).fill(0xa5);
      KERNELS[type](values, dst, blocks);
      assert.equal(hex(dst), c.c, `${type}: ${c.name}`);
      assert.equal(hex(quantize(type, values)), c.c, `quantize("${type}"): ${c.name}`);
    }
  });
}

test("quantize() writes consecutive blocks as the concatenation of single ones", () => {
  // Every edge case of a type, one after another, in one call.
  for (const type of Object.keys(KERNELS)) {
    const cases = CASES.filter((c) => c.type === type);
    const all = new Float32Array(cases.reduce((n, c) => n + c.n, 0));
    let at = 0;
    for (const c of cases) {
      all.set(valuesOf(c), at);
      at += c.n;
    }
    assert.equal(hex(quantize(type, all)), cases.map((c) => c.c).join(""), type);
  }
});

test("quantize() refuses a length that is not whole blocks of the new types", () => {
  assert.throws(() => quantize("IQ4_XS", new Float32Array(224)), {
    name: "TypeError",
    message: "Cannot quantize to IQ4_XS: 224 values is not a whole number of 256-value blocks",
  });
  assert.throws(() => quantize("MXFP4", new Float32Array(31)), TypeError);
  assert.equal(quantize("F16", new Float32Array(3)).length, 6);
  assert.equal(quantize("bf16", new Float32Array(1)).length, 2);
});
