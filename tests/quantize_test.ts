import assert from "node:assert/strict";
import { test } from "node:test";
import { dequantizerOf, quantizerOf } from "../kernels.ts";
import { dequantize, ggmlType } from "../mod.ts";
import { fp32BitsToFp16, fp32ToFp16 } from "../src/convert/quant/_fp32_to_fp16.ts";
import { quantizeRowQ4_0 } from "../src/convert/quant/q4_0.ts";
import { quantizeRowQ8_0 } from "../src/convert/quant/q8_0.ts";
import { quantize } from "../src/convert/quantize.ts";
import { FP16_TO_F32 } from "../src/convert/dequant/_fp16.ts";
import { conformance, type ExpectedTensor, fixtureBytes, listFixtures } from "./_fixtures.ts";
import { sha256 } from "./_hash.ts";

/** The oracle's requantization digests (see `shared/fixtures/README.md`). */
type RequantTensor = ExpectedTensor & { requant_sha256?: Record<string, string> };

function bitsOf(value: number): number {
  return new Uint32Array(new Float32Array([value]).buffer)[0];
}

function fromBits(bits: number): number {
  return new Float32Array(new Uint32Array([bits]).buffer)[0];
}

test(
  "quantize() equals ggml's quantizers on every requantizable fixture tensor, every type",
  conformance,
  () => {
    const checked = new Map<string, number>();
    const skipped = new Map<string, number>();
    const targets = new Map<string, number>();
    const missing = new Set<string>();
    const count = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
    for (const f of listFixtures()) {
      const bytes = fixtureBytes(f);
      // The version's low byte comes first in a little-endian file (versions are 1–3).
      const littleEndian = bytes[4] !== 0;
      for (const tensor of f.expected.tensors as RequantTensor[]) {
        if (tensor.requant_sha256 === undefined) continue;
        const traits = ggmlType(tensor.type_id)!;
        const dequantizer = dequantizerOf(traits);
        if (dequantizer === undefined || (!littleEndian && !dequantizer.endianAware)) {
          count(skipped, tensor.type);
          continue;
        }
        const start = f.expected.data_offset + tensor.offset;
        const blocks = tensor.nbytes / traits.bytesPerBlock;
        const values = new Float32Array(blocks * traits.blockSize);
        dequantizer.kernel(
          bytes.subarray(start, start + tensor.nbytes),
          values,
          blocks,
          littleEndian,
        );
        const where = `${f.id} ${tensor.name} (${tensor.type})`;
        assert.equal(sha256(values), tensor.f32_sha256, `${where}: float32 input`);
        for (const [target, digest] of Object.entries(tensor.requant_sha256)) {
          if (quantizerOf(ggmlType(target)!) === undefined) {
            missing.add(target);
            continue;
          }
          assert.equal(sha256(quantize(target, values)), digest, `${where} → ${target}`);
          count(targets, target);
        }
        count(checked, tensor.type);
      }
    }
    const total = [...checked.values()].reduce((a, b) => a + b, 0);
    const list = (map: Map<string, number>) =>
      [...map].map(([type, n]) => `${type} ${n}`).join(", ") || "none";
    console.log(`requantized ${total} tensors: ${list(checked)}`);
    console.log(`into: ${list(targets)}`);
    // Every type the oracle lists is one gguf-stream quantizes into (#21).
    assert.deepEqual([...missing], [], "types the fixtures list but nothing quantizes into");
    console.log(`skipped (no dequantizer yet): ${list(skipped)}`);
    assert.ok(total > 0, "no tensor was checked");
    assert.ok((checked.get("F32") ?? 0) > 0 && (checked.get("Q8_0") ?? 0) > 0);
  },
);

test("fp32ToFp16() rounds to the nearest half, ties to even", () => {
  const cases: [number, number][] = [
    [0, 0x0000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.1, 0x2e66],
    [0.01, 0x211f],
    [65504, 0x7bff],
    [1 + 2 ** -11, 0x3c00], // tie between 0x3c00 and 0x3c01: even
    [1 + 3 * 2 ** -11, 0x3c02], // tie between 0x3c01 and 0x3c02: even
    [1 + 2 ** -11 + 2 ** -23, 0x3c01], // just above the tie
    [-(1 + 2 ** -11 - 2 ** -23), 0xbc00], // just below the tie
    [1 - 2 ** -12, 0x3c00], // tie between 0x3bff and 0x3c00: even
    [1 - 2 ** -11, 0x3bff],
  ];
  for (const [value, half] of cases) {
    assert.equal(fp32ToFp16(value), half, `${value}`);
  }
});

test("fp32ToFp16() gives subnormal halfs and flushes below 2^-25 to signed zero", () => {
  const cases: [number, number][] = [
    [2 ** -24, 0x0001],
    [2 ** -25, 0x0000], // tie between 0 and 2^-24: even
    [-(2 ** -25), 0x8000],
    [fromBits(0x33000001), 0x0001], // just above 2^-25
    [3 * 2 ** -25, 0x0002], // tie between 1 and 2 units
    [5 * 2 ** -25, 0x0002], // tie between 2 and 3 units
    [1023 * 2 ** -24, 0x03ff], // largest subnormal
    [1023.5 * 2 ** -24, 0x0400], // tie: up into the smallest normal
    [2 ** -14, 0x0400],
    [-(2 ** -20), 0x8010],
    [1e-45, 0x0000], // float32 subnormal
    [-1e-40, 0x8000],
    [-0, 0x8000],
  ];
  for (const [value, half] of cases) {
    assert.equal(fp32ToFp16(value), half, `${value}`);
  }
});

test("fp32ToFp16() overflows to Inf from 65,520 and maps every NaN to 0x7E00 with its sign", () => {
  assert.equal(fp32ToFp16(65519.99609375), 0x7bff); // largest float32 below 65,520
  assert.equal(fp32ToFp16(65520), 0x7c00); // tie between 65,504 and "65,536": even is Inf
  assert.equal(fp32ToFp16(-65520), 0xfc00);
  assert.equal(fp32ToFp16(65536), 0x7c00);
  assert.equal(fp32ToFp16(1e9), 0x7c00);
  assert.equal(fp32ToFp16(3.4028234663852886e38), 0x7c00);
  assert.equal(fp32ToFp16(Infinity), 0x7c00);
  assert.equal(fp32ToFp16(-Infinity), 0xfc00);
  assert.equal(fp32BitsToFp16(0x7fc00000), 0x7e00);
  assert.equal(fp32BitsToFp16(0xffc00000), 0xfe00);
  assert.equal(fp32BitsToFp16(0x7f800001), 0x7e00); // signalling NaN, payload dropped
  assert.equal(fp32BitsToFp16(0xff812345), 0xfe00);
  assert.equal(fp32ToFp16(NaN) & 0x7fff, 0x7e00);
});

test("the half table holds every half's value by the IEEE definition, NaN payloads kept", () => {
  const bits = new Uint32Array(FP16_TO_F32.buffer, FP16_TO_F32.byteOffset, 65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 31 && mantissa !== 0) {
      assert.equal(bits[h], ((h & 0x8000) << 16 | 0x7f800000 | (mantissa << 13)) >>> 0);
      continue;
    }
    const value = exponent === 0
      ? sign * mantissa * 2 ** -24
      : exponent === 31
      ? sign * Infinity
      : sign * 2 ** (exponent - 15) * (1 + mantissa / 1024);
    assert.ok(Object.is(FP16_TO_F32[h], value), `half ${h}`);
  }
});

test("fp32ToFp16() inverts every half and rounds every midpoint between halfs to even", () => {
  for (let h = 0; h < 0x7c00; h++) {
    for (const sign of [0, 0x8000]) {
      const value = FP16_TO_F32[h | sign];
      assert.equal(fp32ToFp16(value), h | sign);
      if (h === 0x7bff) continue;
      const next = FP16_TO_F32[(h + 1) | sign];
      const mid = (value + next) / 2; // exact in float32: one bit more than a half's
      const bits = bitsOf(mid);
      const even = (h & 1) === 0 ? h : h + 1;
      const got = [fp32BitsToFp16(bits - 1), fp32BitsToFp16(bits), fp32BitsToFp16(bits + 1)];
      if (h === 0 && sign === 0) assert.deepEqual(got, [0, 0, 1]);
      else if (h === 0) assert.deepEqual(got, [0x8000, 0x8000, 0x8001]);
      else assert.deepEqual(got, [h | sign, even | sign, (h + 1) | sign], `half ${h | sign}`);
    }
  }
  assert.equal(fp32ToFp16(FP16_TO_F32[0x7c00]), 0x7c00);
  assert.equal(fp32ToFp16(FP16_TO_F32[0xfc00]), 0xfc00);
});

test("quantizeRowQ8_0() and quantizeRowQ4_0() write blocks in ggml's layout", () => {
  const values = new Float32Array(32);
  values[0] = 1.27;
  values[1] = -0.5;
  values[2] = 0.005; // 0.5 after scaling: roundf rounds half away from zero
  values[3] = -0.005;
  values[17] = -0.635;
  const q8 = new Uint8Array(34);
  quantizeRowQ8_0(values, q8, 1);
  assert.deepEqual([...q8.subarray(0, 6)], [0x1f, 0x21, 127, 0xce, 1, 0xff]);
  assert.equal(q8[2 + 17], 256 - 64); // -63.5 → -64
  const q4 = new Uint8Array(18);
  quantizeRowQ4_0(values, q4, 1);
  // d = 1.27 / -8 = -0.15875 (half 0xb114); weight 0 → 0, weight 16 → 8, weight 17 → 12.
  assert.deepEqual([...q4.subarray(0, 4)], [0x14, 0xb1, 0x80, 0xcb]);
  const zeros = new Float32Array(64);
  zeros[40] = -0; // all-zero blocks: Q8_0 scale +0, Q4_0 scale 0 / -8 = -0
  assert.deepEqual([...quantize("Q8_0", zeros)], new Array(68).fill(0));
  const expected = [0x00, 0x80, ...new Array(16).fill(0x88)];
  assert.deepEqual([...quantize("Q4_0", zeros)], [...expected, ...expected]);
});

test("NaN and Inf quantize as ggml's x86-64 build does", () => {
  const values = new Float32Array(32).fill(0.25);
  values[5] = NaN;
  const q8 = quantize("Q8_0", values);
  // A NaN before the last weight is dropped from the maximum; its byte is 0.
  assert.deepEqual([...q8.subarray(0, 8)], [0x08, 0x18, 127, 127, 127, 127, 127, 0]);
  values[31] = NaN; // the last weight: the scale is NaN, every byte 0
  assert.deepEqual([...quantize("Q8_0", values)], [0x00, 0x7e, ...new Array(32).fill(0)]);
  const q4 = quantize("Q4_0", values); // NaN never becomes Q4_0's max
  assert.deepEqual([...q4.subarray(0, 2)], [0x00, 0xa8]); // -0.25 / 8 = -2^-5
  assert.equal(q4[2 + 5], 0x00 | (0 << 4)); // weight 5 NaN → 0; weight 21 = 0.25 → 0
  assert.equal(q4[2 + 15] & 0xf0, 0x00); // weight 31 NaN → 0
  values.fill(1);
  values[3] = -Infinity;
  const inf8 = quantize("Q8_0", values);
  assert.deepEqual([...inf8], [0x00, 0x7c, ...new Array(32).fill(0)]);
  const inf4 = quantize("Q4_0", values); // d = -Inf / -8 = +Inf, 1 / d = +0
  assert.deepEqual([...inf4.subarray(0, 6)], [0x00, 0x7c, 0x88, 0x88, 0x88, 0x80]);
  // Below about 3.7e-37 (Q8_0) or 2.4e-38 (Q4_0) `1 / d` overflows to Inf: all quants are 0.
  const tiny = new Float32Array(32).fill(-1e-38);
  tiny[7] = 0;
  assert.deepEqual([...quantize("Q8_0", tiny)], new Array(34).fill(0)); // d underflows the half
  assert.deepEqual([...quantize("Q4_0", tiny)], new Array(18).fill(0));
});

test("quantize() round-trips within half a step (Q8_0) or one step (Q4_0) per block", () => {
  let seed = 0x9e3779b9;
  const random = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t ^= t + Math.imul(t ^ (t >>> 7), 61 | t);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const values = new Float32Array(32 * 512);
  for (let i = 0; i < values.length; i++) {
    const scale = 10 ** ((Math.floor(i / 32) % 9) - 4);
    values[i] = scale * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  }
  for (const [type, steps, qmax] of [["Q8_0", 0.5, 127], ["Q4_0", 1, 8]] as const) {
    const blocks = quantize(type, values);
    const back = dequantize(type, blocks);
    const blockBytes = type === "Q8_0" ? 34 : 18;
    for (let b = 0; b < values.length / 32; b++) {
      let amax = 0;
      for (let j = b * 32; j < b * 32 + 32; j++) amax = Math.max(amax, Math.abs(values[j]));
      const step = amax / qmax;
      // The stored scale is a half: its rounding error adds up to qmax times itself.
      const o = b * blockBytes;
      const stored = Math.abs(FP16_TO_F32[blocks[o] | (blocks[o + 1] << 8)]);
      const bound = steps * step * 1.0001 + qmax * Math.abs(stored - step);
      assert.ok(Math.abs(stored - step) <= Math.max(step * 2 ** -11, 2 ** -25));
      for (let j = b * 32; j < b * 32 + 32; j++) {
        assert.ok(
          Math.abs(back[j] - values[j]) <= bound,
          `${type} weight ${j}: ${values[j]} came back as ${back[j]}`,
        );
      }
    }
  }
});

test("quantize() writes into dst and returns it trimmed", () => {
  const values = new Float32Array(64).fill(0.5);
  const dst = new Uint8Array(100).fill(0xaa);
  const out = quantize(8, values, dst);
  assert.equal(out.buffer, dst.buffer);
  assert.equal(out.length, 68);
  assert.equal(dst[68], 0xaa);
  assert.deepEqual(quantize("q4_0", values, new Uint8Array(36)), quantize(2, values));
  assert.deepEqual(quantize("Q8_0", new Float32Array(0)), new Uint8Array(0));
});

test("quantize() refuses bad arguments with a TypeError", () => {
  const values = new Float32Array(32);
  assert.throws(() => quantize("Q9", values), TypeError);
  assert.throws(() => quantize(4, values), TypeError); // a removed id
  // IQ2_XXS needs an importance matrix, so it stays out of the list as quantizers are added.
  assert.throws(() => quantize("IQ2_XXS", values), {
    name: "TypeError",
    message:
      /^Cannot quantize to IQ2_XXS: gguf-stream quantizes only to (.+, )?Q4_0, (.+, )?Q8_0\b/,
  });
  assert.throws(() => quantize("Q4_K", values), {
    name: "TypeError",
    message: "Cannot quantize to Q4_K: 32 values is not a whole number of 256-value blocks",
  });
  assert.throws(() => quantize("Q8_0", new Float32Array(33)), {
    name: "TypeError",
    message: "Cannot quantize to Q8_0: 33 values is not a whole number of 32-value blocks",
  });
  assert.throws(() => quantize("Q4_0", new Float32Array(64), new Uint8Array(35)), {
    name: "TypeError",
    message: "Cannot quantize to Q4_0: dst holds 35 bytes, 36 needed",
  });
});
