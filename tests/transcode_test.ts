import assert from "node:assert/strict";
import { test } from "node:test";
import { readGguf } from "../mod.ts";
import { dequantizerOf } from "../src/convert/kernels.ts";
import { allTranscoders, transcoderOf } from "../src/convert/transcode/transcoders.ts";
import type { Transcoder } from "../src/convert/transcode/transcoders.ts";
import { ggmlType } from "../src/model/ggml_type.ts";
import { conformance, fixtureBytes, listFixtures, STRICT_REFUSALS } from "./_fixtures.ts";
import { sha256 } from "./_hash.ts";

// Expected values: the fixtures' f32_sha256 (ggml's to_float of each source tensor) and the
// source's own to_float, which the first test proves equal to it.

const name = (id: number) => ggmlType(id)!.name;

/** The pairs the issue asks for, and the ones worked out beside them. */
const REQUIRED = [
  "Q4_0>Q8_0",
  "Q5_0>Q8_0",
  "IQ4_NL>Q8_0",
  "IQ4_XS>Q8_0",
  "MXFP4>Q8_0",
  "TQ1_0>Q8_0",
  "TQ2_0>Q8_0",
  "Q4_K>Q4_1",
  "Q5_K>Q5_1",
  "Q4_0>Q4_1",
  "Q4_1>Q5_1",
  "Q5_0>Q5_1",
  "IQ1_S>Q8_0",
  "IQ2_XXS>Q8_0",
  "IQ3_XXS>Q8_0",
  "IQ3_S>Q8_0",
];

/** Pairs whose values are equal as numbers (not always bit for bit: −0 becomes +0). */
const VALUE_EXACT = new Map([["Q4_0>Q4_1", 8], ["Q5_0>Q5_1", 16]]);

/** Pairs equal as numbers except in blocks whose codes were rounded (largest code 127). */
const VALUE_EXACT_UNLESS_ROUNDED = new Set(["Q3_K>Q8_0"]);

/** Sources whose codes can pass 127 in a Q8_0 block, which then rounds them. */
/**
 * Sources whose codes can pass 127 in a Q8_0 block, with how far past: such a block either
 * clamps those codes to 127 (that many scale steps off) or rounds every code (half a step).
 */
const ROUNDS_CODES = new Map([["IQ1_M", 135 - 127], ["Q3_K", 128 - 127]]);

const pairName = (t: Transcoder) => `${name(t.from)}>${name(t.to)}`;

/** Runs a transcoder on whole source blocks and returns both sides' to_float values. */
function run(t: Transcoder, src: Uint8Array) {
  const from = ggmlType(t.from)!;
  const to = ggmlType(t.to)!;
  const blocks = src.length / from.bytesPerBlock;
  assert.ok(Number.isInteger(blocks));
  const values = blocks * from.blockSize;
  const dst = new Uint8Array((values / to.blockSize) * to.bytesPerBlock);
  t.kernel(src, dst, blocks);
  const x = new Float32Array(values);
  dequantizerOf(from)!.kernel(src, x, blocks, true);
  const out = new Float32Array(values);
  dequantizerOf(to)!.kernel(dst, out, values / to.blockSize, true);
  return { dst, x, out };
}

const halfValue = new Float32Array(1);
/** A half's value (independent of the code under test: built from its bits here). */
function fp16(bits: number): number {
  const e = (bits >> 10) & 31;
  const m = bits & 1023;
  const sign = bits & 0x8000 ? -1 : 1;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m === 0 ? sign * Infinity : NaN;
  halfValue[0] = sign * (1024 + m) * 2 ** (e - 25);
  return halfValue[0];
}

const R = 2 ** -11 * (1 + 2 ** -10); // one rounding to a half, measured against the half
const SUB = 2 ** -25; // half an ulp below the normal halfs
const F32 = 2 ** -24; // one float32 rounding

/**
 * The largest |out − x| allowed for value i when each target block scale (and minimum) is
 * one half rounding away from the exact one: read from the target block itself.
 * `Infinity` where the block's scale or minimum saturated at ±65504.
 */
function bound(to: string, dst: Uint8Array, i: number, x: number): number {
  if (to === "Q8_0") {
    const o = 34 * (i >> 5);
    const d = fp16(dst[o] | (dst[o + 1] << 8));
    if (Math.abs(d) === 65504) return Infinity;
    const c = Math.abs((dst[o + 2 + (i & 31)] << 24) >> 24);
    return c * (R * Math.abs(d) + SUB) + F32 * Math.abs(x);
  }
  if (to === "Q5_0") {
    const o = 22 * (i >> 5);
    const d = fp16(dst[o] | (dst[o + 1] << 8));
    if (Math.abs(d) === 65504) return Infinity;
    const j = i & 31;
    const qh = dst[o + 2] | (dst[o + 3] << 8) | (dst[o + 4] << 16) | (dst[o + 5] << 24);
    const q = (j < 16 ? dst[o + 6 + j] & 15 : dst[o + 6 + j - 16] >> 4) | (((qh >>> j) & 1) << 4);
    return Math.abs(q - 16) * (R * Math.abs(d) + SUB) + F32 * Math.abs(x);
  }
  const size = to === "Q4_1" ? 20 : 24;
  const o = size * (i >> 5);
  const d = fp16(dst[o] | (dst[o + 1] << 8));
  const m = fp16(dst[o + 2] | (dst[o + 3] << 8));
  if (Math.abs(d) === 65504 || Math.abs(m) === 65504) return Infinity;
  const j = i & 31;
  const qs = to === "Q4_1" ? o + 4 : o + 8;
  let q = j < 16 ? dst[qs + j] & 15 : dst[qs + j - 16] >> 4;
  if (to === "Q5_1") {
    const qh = dst[o + 4] | (dst[o + 5] << 8) | (dst[o + 6] << 16) | (dst[o + 7] << 24);
    q |= ((qh >>> j) & 1) << 4;
  }
  return R * (Math.abs(d) * q + Math.abs(m)) + (q + 1) * SUB + 2 * F32 * (Math.abs(x) + 1e-30) +
    F32 * (Math.abs(d) * q + Math.abs(m));
}

/** Checks a lossy pair's values; returns the squared error and squared value sums. */
function checkBound(
  t: Transcoder,
  dst: Uint8Array,
  x: Float32Array,
  out: Float32Array,
  id: string,
) {
  const to = name(t.to);
  let err2 = 0;
  let ref2 = 0;
  let wide = 0;
  for (let i = 0; i < x.length; i++) {
    const limit = bound(to, dst, i, x[i]);
    if (Number.isNaN(x[i])) {
      assert.ok(Number.isNaN(out[i]), `${id} value ${i}: NaN expected, got ${out[i]}`);
      continue;
    }
    if (limit === Infinity && (Number.isFinite(x[i]) || Number.isFinite(out[i]))) {
      // A scale past the largest half saturates: the block cannot be held, but stays
      // finite (MXFP4's largest scales even overflow float32 in the source).
      assert.ok(Number.isFinite(out[i]), `${id} value ${i}: saturated block must stay finite`);
      continue;
    }
    if (!Number.isFinite(x[i])) {
      assert.equal(out[i], x[i], `${id} value ${i}`);
      continue;
    }
    const diff = Math.abs(out[i] - x[i]);
    if (diff > limit) {
      // IQ1_M (15 × 9 = 135) and Q3_K (32 × 4 = 128) alone may clamp or round their
      // codes where they pass 127.
      const o = 34 * (i >> 5);
      const d = Math.abs(fp16(dst[o] | (dst[o + 1] << 8)));
      assert.ok(
        ROUNDS_CODES.has(name(t.from)) &&
          diff <= ROUNDS_CODES.get(name(t.from))! * d + limit + R * Math.abs(x[i]),
        `${id} value ${i}: |${out[i]} − ${x[i]}| = ${diff} > ${limit}`,
      );
      wide++;
    }
    err2 += diff * diff;
    ref2 += x[i] * x[i];
  }
  return { err2, ref2, wide };
}

interface FixtureTensor {
  id: string;
  type: number;
  data: Uint8Array;
  f32: string | null;
}

let cache: FixtureTensor[] | undefined;
/** Every fixture tensor whose type some transcoder reads. */
async function sourceTensors(): Promise<FixtureTensor[]> {
  if (cache !== undefined) return cache;
  const sources = new Set(allTranscoders().map((t) => t.from));
  cache = [];
  for (const f of listFixtures()) {
    if (!f.expected.tensors.some((t) => sources.has(t.type_id))) continue;
    const bytes = fixtureBytes(f);
    const file = await readGguf(bytes, { lenient: STRICT_REFUSALS[f.id] !== undefined });
    if (!file.littleEndian) continue;
    for (const [i, info] of file.tensors.entries()) {
      if (!sources.has(info.type)) continue;
      cache.push({
        id: `${f.id} ${info.name}`,
        type: info.type,
        data: bytes.subarray(info.fileOffset, info.fileOffset + info.nbytes),
        f32: f.expected.tensors[i].f32_sha256,
      });
    }
  }
  return cache;
}

test("transcoderOf() finds every pair the issue names", () => {
  const have = new Set(allTranscoders().map(pairName));
  for (const pair of REQUIRED) assert.ok(have.has(pair), pair);
  const [a, b] = ["Q4_K", "Q4_1"].map((n) => ggmlType(n)!);
  assert.equal(transcoderOf(a, b)?.kernel, transcoderOf(a.id, b.id)?.kernel);
});

for (const t of allTranscoders()) {
  const pair = pairName(t);
  test(
    `${pair}: every fixture tensor ${
      t.lossless
        ? "equals ggml's to_float bit for bit"
        : "stays within one half rounding per block scale"
    }`,
    conformance,
    async () => {
      const tensors = (await sourceTensors()).filter((f) => f.type === t.from);
      assert.ok(tensors.length > 0, `no fixture tensor of ${name(t.from)}`);
      let err2 = 0;
      let ref2 = 0;
      let wide = 0;
      let count = 0;
      for (const f of tensors) {
        const { dst, x, out } = run(t, f.data);
        count += x.length;
        assert.equal(sha256(x), f.f32, `${f.id}: the source's to_float is ggml's`);
        if (t.lossless) {
          assert.equal(sha256(out), f.f32, f.id);
        } else if (VALUE_EXACT_UNLESS_ROUNDED.has(pair)) {
          for (let i = 0; i < x.length; i++) {
            if (out[i] === x[i]) continue;
            let max = 0;
            for (let j = 0; j < 32; j++) {
              max = Math.max(max, Math.abs((dst[34 * (i >> 5) + 2 + j] << 24) >> 24));
            }
            assert.equal(max, 127, `${f.id} value ${i}: ${out[i]} vs ${x[i]} in an exact block`);
          }
          const r = checkBound(t, dst, x, out, f.id);
          err2 += r.err2;
          ref2 += r.ref2;
          wide += r.wide;
        } else if (VALUE_EXACT.has(pair)) {
          for (let i = 0; i < x.length; i++) assert.ok(out[i] === x[i], `${f.id} value ${i}`);
        } else {
          const r = checkBound(t, dst, x, out, f.id);
          err2 += r.err2;
          ref2 += r.ref2;
          wide += r.wide;
        }
      }
      if (!t.lossless && !VALUE_EXACT.has(pair)) {
        const rms = ref2 === 0 ? 0 : Math.sqrt(err2 / ref2);
        console.log(
          `${pair}: relative RMS error ${rms.toExponential(2)} over ${count} fixture values` +
            (wide > 0 ? ` (${wide} values in blocks with codes clamped or rounded)` : ""),
        );
      }
    },
  );
}

// ---- random blocks with edge scales ----

/** A small deterministic generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let z = a;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
  };
}

/** Zero, subnormal, smallest normal, ordinary, largest, infinite and NaN halfs, both signs. */
const EDGE_HALFS = [
  0x0000,
  0x8000,
  0x0001,
  0x03ff,
  0x0400,
  0x3c00,
  0x2e66,
  0x1234,
  0x7bff,
  0xfbff,
  0x7c00,
  0xfc00,
  0x7e00,
  0xb800,
  0x6000,
  0x7000,
];

/** Byte offsets of a source block's half scales (IQ1_M and MXFP4 are set apart). */
const SCALE_AT: Record<string, number[]> = {
  Q4_0: [0],
  Q5_0: [0],
  Q1_0: [0],
  Q2_0: [0],
  IQ4_NL: [0],
  IQ4_XS: [0],
  IQ1_S: [0],
  IQ2_XXS: [0],
  IQ3_XXS: [0],
  IQ3_S: [0],
  TQ1_0: [52],
  TQ2_0: [64],
  Q4_1: [0, 2],
  Q4_K: [0, 2],
  Q5_K: [0, 2],
  Q3_K: [108],
};

/** Random blocks of a type, block b's scales set to edge values. */
function edgeBlocks(type: string, seed: number): Uint8Array {
  const traits = ggmlType(type)!;
  const n = 256;
  const next = random(seed);
  const src = new Uint8Array(n * traits.bytesPerBlock);
  for (let i = 0; i < src.length; i++) src[i] = Math.floor(next() * 256);
  for (let b = 0; b < n; b++) {
    const o = b * traits.bytesPerBlock;
    if (type === "MXFP4") {
      src[o] = b; // every E8M0 exponent once
      continue;
    }
    const pick = () => EDGE_HALFS[Math.floor(next() * EDGE_HALFS.length)];
    if (type === "IQ1_M") {
      const h = b < EDGE_HALFS.length ? EDGE_HALFS[b] : pick();
      // The half's nibbles are the top nibbles of the scale u16s at bytes 48, 50, 52, 54.
      for (let k = 0; k < 4; k++) {
        src[o + 49 + 2 * k] = (src[o + 49 + 2 * k] & 15) | (((h >> (4 * k)) & 15) << 4);
      }
      continue;
    }
    for (const [k, at] of SCALE_AT[type].entries()) {
      const h = b < EDGE_HALFS.length && k === 0 ? EDGE_HALFS[b] : pick();
      src[o + at] = h & 255;
      src[o + at + 1] = h >> 8;
    }
  }
  return src;
}

const bits = (v: Float32Array) => new Uint32Array(v.buffer, v.byteOffset, v.length);

for (const t of allTranscoders()) {
  const pair = pairName(t);
  test(`${pair}: random blocks with zero, subnormal, largest, infinite and NaN scales`, () => {
    const src = edgeBlocks(name(t.from), t.from * 977 + t.to);
    const { dst, x, out } = run(t, src);
    if (t.lossless) {
      const xb = bits(x);
      const ob = bits(out);
      for (let i = 0; i < x.length; i++) {
        if (Number.isNaN(x[i])) assert.ok(Number.isNaN(out[i]), `value ${i}`);
        else assert.equal(ob[i], xb[i], `value ${i}: ${out[i]} vs ${x[i]}`);
      }
      return;
    }
    const limit = VALUE_EXACT.get(pair);
    if (limit !== undefined) {
      const bytes = ggmlType(t.from)!.bytesPerBlock;
      for (let i = 0; i < x.length; i++) {
        const o = bytes * (i >> 5);
        const d = fp16(src[o] | (src[o + 1] << 8));
        if (Number.isNaN(d) || !Number.isFinite(d)) {
          assert.ok(Number.isNaN(out[i]), `value ${i}: a non-finite scale gives NaN`);
        } else if (Math.abs(d) * limit <= 65504) {
          assert.ok(out[i] === x[i], `value ${i}: ${out[i]} vs ${x[i]}`);
        } else {
          assert.ok(Number.isFinite(out[i]), `value ${i}: saturated minimum stays finite`);
        }
      }
      return;
    }
    checkBound(t, dst, x, out, pair);
    if (name(t.from) === "MXFP4") {
      // Exact for every exponent whose scale a power-of-two half can carry (codes ≤ 96 into
      // Q8_0, the levels themselves into Q5_0).
      for (let i = 0; i < x.length; i++) {
        const e = src[17 * (i >> 5)] - 128;
        if (e >= -24 && e <= (name(t.to) === "Q8_0" ? 18 : 15)) {
          assert.ok(Object.is(out[i], x[i]), `e ${e} value ${i}`);
        }
      }
    }
  });
}
