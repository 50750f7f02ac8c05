// gguf-stream's SIMD kernels (dequantizers; the Q8_0 and Q4_0 quantizers at the end), in
// AssemblyScript, compiled to WebAssembly by asm/build.ts into
// src/convert/simd/_dequant_wasm.ts. Each dequantizer reads `blocks` whole blocks at `src`
// and writes their float32 values at `dst`, bit for bit as ggml's
// `dequantize_row_*` (see the portable kernels in src/convert/dequant/ for the block
// layouts): every float operation is the IEEE single one C does, in C's order (where C
// rounds d·scale and then multiplies by a quant, so do these). `fp16` (or `tables`) is the
// address of a 65,536-entry float32 table of every half, followed by the IQ grids (see
// "Grid types" below); the JavaScript side writes them once per memory.
// Little-endian blocks only; memory is laid out by the caller.

// @ts-nocheck: AssemblyScript, not TypeScript (usize, v128, load<T>, @inline).

import { fifthBits } from "./_bits";

@inline function half(fp16: usize, at: usize): f32 {
  return load<f32>(fp16 + (<usize>load<u16>(at) << 2));
}

/** 16 small signed integers (i8 lanes) times `d`: 16 floats at `dst`. */
@inline function storeScaled(dst: usize, q: v128, d: v128): void {
  const lo = i16x8.extend_low_i8x16_s(q);
  const hi = i16x8.extend_high_i8x16_s(q);
  v128.store(dst, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(lo)), d));
  v128.store(dst, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(lo)), d), 16);
  v128.store(dst, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(hi)), d), 32);
  v128.store(dst, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(hi)), d), 48);
}

/** 16 small unsigned integers (u8 lanes) q: q·d + m, 16 floats at `dst`. */
@inline function storeScaledAdd(dst: usize, q: v128, d: v128, m: v128): void {
  const lo = i16x8.extend_low_i8x16_u(q);
  const hi = i16x8.extend_high_i8x16_u(q);
  const a = f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_u(lo));
  const b = f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_u(lo));
  const c = f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_u(hi));
  const e = f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_u(hi));
  v128.store(dst, f32x4.add(f32x4.mul(a, d), m));
  v128.store(dst, f32x4.add(f32x4.mul(b, d), m), 16);
  v128.store(dst, f32x4.add(f32x4.mul(c, d), m), 32);
  v128.store(dst, f32x4.add(f32x4.mul(e, d), m), 48);
}

/** 16 small unsigned integers (u8 lanes) q: q·d − m, 16 floats at `dst`. */
@inline function storeScaledSub(dst: usize, q: v128, d: v128, m: v128): void {
  const lo = i16x8.extend_low_i8x16_u(q);
  const hi = i16x8.extend_high_i8x16_u(q);
  const a = f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_u(lo));
  const b = f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_u(lo));
  const c = f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_u(hi));
  const e = f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_u(hi));
  v128.store(dst, f32x4.sub(f32x4.mul(a, d), m));
  v128.store(dst, f32x4.sub(f32x4.mul(b, d), m), 16);
  v128.store(dst, f32x4.sub(f32x4.mul(c, d), m), 32);
  v128.store(dst, f32x4.sub(f32x4.mul(e, d), m), 48);
}

/** Q4_0: 18 bytes, half d and 16 bytes of nibbles; w = (q − 8)·d. */
export function q4_0(src: usize, dst: usize, blocks: i32, fp16: usize): void {
  const mask = i8x16.splat(15);
  const eight = i8x16.splat(8);
  for (let b = 0; b < blocks; b++, src += 18, dst += 128) {
    const d = f32x4.splat(half(fp16, src));
    const q = v128.load(src, 2);
    storeScaled(dst, i8x16.sub(v128.and(q, mask), eight), d);
    storeScaled(dst + 64, i8x16.sub(i8x16.shr_u(q, 4), eight), d);
  }
}

/** Q4_1: 20 bytes, half d, half m and 16 bytes of nibbles; w = q·d + m. */
export function q4_1(src: usize, dst: usize, blocks: i32, fp16: usize): void {
  const mask = i8x16.splat(15);
  for (let b = 0; b < blocks; b++, src += 20, dst += 128) {
    const d = f32x4.splat(half(fp16, src));
    const m = f32x4.splat(half(fp16, src + 2));
    const q = v128.load(src, 4);
    storeScaledAdd(dst, v128.and(q, mask), d, m);
    storeScaledAdd(dst + 64, i8x16.shr_u(q, 4), d, m);
  }
}

/** Q5_0: 22 bytes, half d, 32 fifth bits, 16 bytes of nibbles; w = (q − 16)·d. */
export function q5_0(src: usize, dst: usize, blocks: i32, fp16: usize): void {
  const mask = i8x16.splat(15);
  const sixteen = i8x16.splat(16);
  for (let b = 0; b < blocks; b++, src += 22, dst += 128) {
    const d = f32x4.splat(half(fp16, src));
    const qh = load<u32>(src, 2);
    const q = v128.load(src, 6);
    const lo = v128.or(v128.and(q, mask), fifthBits(qh, true));
    const hi = v128.or(i8x16.shr_u(q, 4), fifthBits(qh, false));
    storeScaled(dst, i8x16.sub(lo, sixteen), d);
    storeScaled(dst + 64, i8x16.sub(hi, sixteen), d);
  }
}

/** Q5_1: 24 bytes, half d, half m, 32 fifth bits, 16 bytes of nibbles; w = q·d + m. */
export function q5_1(src: usize, dst: usize, blocks: i32, fp16: usize): void {
  const mask = i8x16.splat(15);
  for (let b = 0; b < blocks; b++, src += 24, dst += 128) {
    const d = f32x4.splat(half(fp16, src));
    const m = f32x4.splat(half(fp16, src + 2));
    const qh = load<u32>(src, 4);
    const q = v128.load(src, 8);
    storeScaledAdd(dst, v128.or(v128.and(q, mask), fifthBits(qh, true)), d, m);
    storeScaledAdd(dst + 64, v128.or(i8x16.shr_u(q, 4), fifthBits(qh, false)), d, m);
  }
}

/** Q8_0: 34 bytes, half d and 32 signed bytes; w = q·d. */
export function q8_0(src: usize, dst: usize, blocks: i32, fp16: usize): void {
  for (let b = 0; b < blocks; b++, src += 34, dst += 128) {
    const d = f32x4.splat(half(fp16, src));
    storeScaled(dst, v128.load(src, 2), d);
    storeScaled(dst + 64, v128.load(src, 18), d);
  }
}

/**
 * A K-quant's 6-bit scale (`min` false) or min (`min` true) of pair `j` from its 12
 * packed bytes at `k` (ggml's get_scale_min_k4).
 */
@inline function scaleMin(k: usize, j: i32, min: bool): u32 {
  if (j < 4) return <u32>load<u8>(k + j + (min ? 4 : 0)) & 63;
  const low = <u32>load<u8>(k + j + 4);
  const top = <u32>load<u8>(k + j - (min ? 0 : 4)) >> 6;
  return (min ? low >> 4 : low & 15) | (top << 4);
}

/** Q4_K's pair of sub-blocks `g` (0–3, a constant once inlined): 64 values at `dst + 256·g`. */
@inline function q4kPair(src: usize, dst: usize, g: i32, d: f32, dmin: f32): void {
  const mask = i8x16.splat(15);
  const d1 = f32x4.splat(d * <f32>scaleMin(src + 4, 2 * g, false));
  const m1 = f32x4.splat(dmin * <f32>scaleMin(src + 4, 2 * g, true));
  const d2 = f32x4.splat(d * <f32>scaleMin(src + 4, 2 * g + 1, false));
  const m2 = f32x4.splat(dmin * <f32>scaleMin(src + 4, 2 * g + 1, true));
  const q = src + 16 + 32 * <usize>g;
  const out = dst + 256 * <usize>g;
  const a = v128.load(q);
  const c = v128.load(q, 16);
  storeScaledSub(out, v128.and(a, mask), d1, m1);
  storeScaledSub(out + 64, v128.and(c, mask), d1, m1);
  storeScaledSub(out + 128, v128.and(i16x8.shr_u(a, 4), mask), d2, m2);
  storeScaledSub(out + 192, v128.and(i16x8.shr_u(c, 4), mask), d2, m2);
}

/** Q4_K: 144 bytes, half d, half dmin, 12 scale bytes, 128 bytes of nibbles. */
export function q4_k(src: usize, dst: usize, blocks: i32, fp16: usize): void {
  for (let b = 0; b < blocks; b++, src += 144, dst += 1024) {
    const d = half(fp16, src);
    const dmin = half(fp16, src + 2);
    q4kPair(src, dst, 0, d, dmin);
    q4kPair(src, dst, 1, d, dmin);
    q4kPair(src, dst, 2, d, dmin);
    q4kPair(src, dst, 3, d, dmin);
  }
}

/**
 * Bit `bit` (0–7, a constant once inlined) of every byte of `h`, moved to bit 4: 16 where
 * it is set, 0 where not. The 16-bit shifts are exact here (the bits they bring in from
 * the next byte are masked off) and native, where WebAssembly's byte shifts are emulated.
 */
@inline function bitAsSixteen(h: v128, bit: i32): v128 {
  const moved = bit <= 4 ? i16x8.shl(h, 4 - bit) : i16x8.shr_u(h, bit - 4);
  return v128.and(moved, i8x16.splat(16));
}

/** Q5_K's pair of sub-blocks `g` (0–3, a constant once inlined): 64 values at `dst + 256·g`. */
@inline function q5kPair(src: usize, dst: usize, g: i32, d: f32, dmin: f32): void {
  const mask = i8x16.splat(15);
  const d1 = f32x4.splat(d * <f32>scaleMin(src + 4, 2 * g, false));
  const m1 = f32x4.splat(dmin * <f32>scaleMin(src + 4, 2 * g, true));
  const d2 = f32x4.splat(d * <f32>scaleMin(src + 4, 2 * g + 1, false));
  const m2 = f32x4.splat(dmin * <f32>scaleMin(src + 4, 2 * g + 1, true));
  const h0 = v128.load(src, 16);
  const h1 = v128.load(src, 32);
  const q = src + 48 + 32 * <usize>g;
  const out = dst + 256 * <usize>g;
  const a = v128.load(q);
  const c = v128.load(q, 16);
  // Bit 2g of high-bit byte l goes to weight l of the low nibbles, bit 2g + 1 to the high.
  storeScaledSub(out, v128.or(v128.and(a, mask), bitAsSixteen(h0, 2 * g)), d1, m1);
  storeScaledSub(out + 64, v128.or(v128.and(c, mask), bitAsSixteen(h1, 2 * g)), d1, m1);
  const a1 = v128.and(i16x8.shr_u(a, 4), mask);
  const c1 = v128.and(i16x8.shr_u(c, 4), mask);
  storeScaledSub(out + 128, v128.or(a1, bitAsSixteen(h0, 2 * g + 1)), d2, m2);
  storeScaledSub(out + 192, v128.or(c1, bitAsSixteen(h1, 2 * g + 1)), d2, m2);
}

/** Q5_K: 176 bytes, half d, half dmin, 12 scale bytes, 32 bytes of fifth bits, 128 of nibbles. */
export function q5_k(src: usize, dst: usize, blocks: i32, fp16: usize): void {
  for (let b = 0; b < blocks; b++, src += 176, dst += 1024) {
    const d = half(fp16, src);
    const dmin = half(fp16, src + 2);
    q5kPair(src, dst, 0, d, dmin);
    q5kPair(src, dst, 1, d, dmin);
    q5kPair(src, dst, 2, d, dmin);
    q5kPair(src, dst, 3, d, dmin);
  }
}

/**
 * Q6_K: 210 bytes, 128 bytes of low nibbles, 64 of 2-bit pairs, 16 signed scales, half d;
 * w = (d·scale)·(q − 32), the product rounded once as in C.
 */
export function q6_k(src: usize, dst: usize, blocks: i32, fp16: usize): void {
  const mask = i8x16.splat(15);
  const three = i8x16.splat(3);
  const bias = i8x16.splat(32);
  for (let b = 0; b < blocks; b++, src += 210, dst += 1024) {
    const d = half(fp16, src + 208);
    for (let n: usize = 0; n < 2; n++) {
      const ql = src + 64 * n;
      const qh = src + 128 + 32 * n;
      const sc = src + 192 + 8 * n;
      const out = dst + 512 * n;
      for (let c: usize = 0; c < 2; c++) {
        const a = v128.load(ql + 16 * c);
        const e = v128.load(ql + 32 + 16 * c);
        const h = v128.load(qh + 16 * c);
        const q1 = v128.or(v128.and(a, mask), i8x16.shl(v128.and(h, three), 4));
        const q2 = v128.or(v128.and(e, mask), i8x16.shl(v128.and(i8x16.shr_u(h, 2), three), 4));
        const q3 = v128.or(i8x16.shr_u(a, 4), i8x16.shl(v128.and(i8x16.shr_u(h, 4), three), 4));
        const q4 = v128.or(i8x16.shr_u(e, 4), i8x16.shl(i8x16.shr_u(h, 6), 4));
        const at = out + 64 * c;
        storeScaled(at, i8x16.sub(q1, bias), f32x4.splat(d * <f32>load<i8>(sc + c)));
        storeScaled(at + 128, i8x16.sub(q2, bias), f32x4.splat(d * <f32>load<i8>(sc + c + 2)));
        storeScaled(at + 256, i8x16.sub(q3, bias), f32x4.splat(d * <f32>load<i8>(sc + c + 4)));
        storeScaled(at + 384, i8x16.sub(q4, bias), f32x4.splat(d * <f32>load<i8>(sc + c + 6)));
      }
    }
  }
}

/**
 * Q2_K: 84 bytes, 16 scale bytes (scale low nibble, min high), 64 bytes of 2-bit quants,
 * half d, half dmin; w = (d·scale)·q − dmin·min, each product rounded as in C.
 */
export function q2_k(src: usize, dst: usize, blocks: i32, fp16: usize): void {
  const three = i8x16.splat(3);
  for (let b = 0; b < blocks; b++, src += 84, dst += 1024) {
    const d = half(fp16, src + 80);
    const dmin = half(fp16, src + 82);
    for (let n = 0; n < 2; n++) {
      const a = v128.load(src + 16 + 32 * <usize>n);
      const c = v128.load(src + 32 + 32 * <usize>n);
      for (let j = 0; j < 4; j++) {
        const shift = 2 * j;
        const sa = <u32>load<u8>(src + 8 * <usize>n + 2 * <usize>j);
        const sc = <u32>load<u8>(src + 8 * <usize>n + 2 * <usize>j + 1);
        const out = dst + 512 * <usize>n + 128 * <usize>j;
        storeScaledSub(
          out,
          v128.and(i16x8.shr_u(a, shift), three),
          f32x4.splat(d * <f32>(sa & 15)),
          f32x4.splat(dmin * <f32>(sa >> 4)),
        );
        storeScaledSub(
          out + 64,
          v128.and(i16x8.shr_u(c, shift), three),
          f32x4.splat(d * <f32>(sc & 15)),
          f32x4.splat(dmin * <f32>(sc >> 4)),
        );
      }
    }
  }
}

/** Q3_K's 6-bit scale `i` (0–15) from its 12 packed bytes at `k`, less 32. */
@inline function q3kScale(k: usize, i: i32): i32 {
  const low = i < 8 ? <i32>load<u8>(k + <usize>i) & 15 : <i32>load<u8>(k + <usize>(i - 8)) >> 4;
  const high = (<i32>load<u8>(k + 8 + <usize>(i & 3)) >> (2 * (i >> 2))) & 3;
  return (low | (high << 4)) - 32;
}

/**
 * Q3_K: 110 bytes, 32 bytes of high bits, 64 of 2-bit quants, 12 of packed 6-bit scales,
 * half d; w = (d·(scale − 32))·(q − (high bit ? 0 : 4)), each product rounded as in C.
 */
export function q3_k(src: usize, dst: usize, blocks: i32, fp16: usize): void {
  const three = i8x16.splat(3);
  const four = i8x16.splat(4);
  for (let b = 0; b < blocks; b++, src += 110, dst += 1024) {
    const d = half(fp16, src + 108);
    const h0 = v128.load(src);
    const h1 = v128.load(src, 16);
    for (let n = 0; n < 2; n++) {
      const a = v128.load(src + 32 + 32 * <usize>n);
      const c = v128.load(src + 48 + 32 * <usize>n);
      for (let j = 0; j < 4; j++) {
        const shift = 2 * j;
        const bitValue: i32 = 1 << (4 * n + j);
        const bit = i8x16.splat(<i8>bitValue);
        // q − 4 where the high bit is clear, q where it is set.
        const ha = i8x16.eq(v128.and(h0, bit), bit);
        const hc = i8x16.eq(v128.and(h1, bit), bit);
        const qa = i8x16.sub(v128.and(i16x8.shr_u(a, shift), three), v128.andnot(four, ha));
        const qc = i8x16.sub(v128.and(i16x8.shr_u(c, shift), three), v128.andnot(four, hc));
        const out = dst + 512 * <usize>n + 128 * <usize>j;
        const s = 8 * n + 2 * j;
        storeScaled(out, qa, f32x4.splat(d * <f32>q3kScale(src + 96, s)));
        storeScaled(out + 64, qc, f32x4.splat(d * <f32>q3kScale(src + 96, s + 1)));
      }
    }
  }
}

/** ggml's `kvalues_iq4nl`, the 16 levels of IQ4_NL and IQ4_XS, as i8 lanes. */
@inline function iq4Levels(): v128 {
  return i8x16(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
}

/** IQ4_NL: 18 bytes, half d and 16 bytes of nibbles indexing the levels; w = d·level. */
export function iq4_nl(src: usize, dst: usize, blocks: i32, fp16: usize): void {
  const levels = iq4Levels();
  const mask = i8x16.splat(15);
  for (let b = 0; b < blocks; b++, src += 18, dst += 128) {
    const d = f32x4.splat(half(fp16, src));
    const q = v128.load(src, 2);
    storeScaled(dst, i8x16.swizzle(levels, v128.and(q, mask)), d);
    storeScaled(dst + 64, i8x16.swizzle(levels, i8x16.shr_u(q, 4)), d);
  }
}

/**
 * IQ4_XS: 136 bytes, half d, 16 high scale bits, 4 bytes of low scale nibbles, 128 bytes
 * of nibbles indexing the levels; w = (d·(scale − 32))·level, each product rounded as in C.
 */
export function iq4_xs(src: usize, dst: usize, blocks: i32, fp16: usize): void {
  const levels = iq4Levels();
  const mask = i8x16.splat(15);
  for (let b = 0; b < blocks; b++, src += 136, dst += 1024) {
    const d = half(fp16, src);
    const high = <i32>load<u16>(src, 2);
    for (let ib = 0; ib < 8; ib++) {
      const low = (<i32>load<u8>(src + 4 + (<usize>ib >> 1)) >> (4 * (ib & 1))) & 15;
      const scale = low | (((high >> (2 * ib)) & 3) << 4);
      const dl = f32x4.splat(d * <f32>(scale - 32));
      const q = v128.load(src + 8 + 16 * <usize>ib);
      storeScaled(dst + 128 * <usize>ib, i8x16.swizzle(levels, v128.and(q, mask)), dl);
      storeScaled(dst + 128 * <usize>ib + 64, i8x16.swizzle(levels, i8x16.shr_u(q, 4)), dl);
    }
  }
}

/**
 * MXFP4: 17 bytes, an E8M0 exponent e and 16 bytes of FP4 (E2M1) nibbles;
 * w = level·2^(e − 128) (ggml's GGML_E8M0_TO_FP32_HALF: half the E8M0 value).
 */
export function mxfp4(src: usize, dst: usize, blocks: i32, fp16: usize): void {
  const levels = i8x16(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);
  const mask = i8x16.splat(15);
  for (let b = 0; b < blocks; b++, src += 17, dst += 128) {
    const e = <u32>load<u8>(src);
    // 2^(e − 128): a subnormal float for e < 2, else the biased exponent e − 1.
    const d = f32x4.splat(reinterpret<f32>(e < 2 ? <u32>0x00200000 << e : (e - 1) << 23));
    const q = v128.load(src, 1);
    storeScaled(dst, i8x16.swizzle(levels, v128.and(q, mask)), d);
    storeScaled(dst + 64, i8x16.swizzle(levels, i8x16.shr_u(q, 4)), d);
  }
}

/** Half a UE4M3 scale (ggml's ggml_ue4m3_to_fp32: 0x7f is 0, bit 7 is ignored). */
@inline function ue4m3Half(x: u32): f32 {
  if (x == 0x7f) return 0;
  const e = (x >> 3) & 15;
  const m = x & 7;
  // m·2^−10 when e is 0 (exact), else (1 + m/8)·2^(e − 8), built from its bits.
  return e == 0 ? <f32>m * reinterpret<f32>(0x3a800000) : reinterpret<f32>(((e + 119) << 23) | (m << 20));
}

/**
 * NVFP4: 36 bytes, 4 UE4M3 scales and 32 bytes of FP4 nibbles, 4 runs of 16 weights
 * (the low nibbles of a run's 8 bytes, then their high nibbles); w = level·scale/2.
 */
export function nvfp4(src: usize, dst: usize, blocks: i32, fp16: usize): void {
  const levels = i8x16(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);
  const mask = i8x16.splat(15);
  for (let b = 0; b < blocks; b++, src += 36, dst += 256) {
    for (let h: usize = 0; h < 2; h++) {
      const q = v128.load(src + 4 + 16 * h);
      const lo = v128.and(q, mask);
      const hi = i8x16.shr_u(q, 4);
      const first = i8x16.shuffle(lo, hi, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
      const second = i8x16.shuffle(lo, hi, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
      const d0 = f32x4.splat(ue4m3Half(<u32>load<u8>(src + 2 * h)));
      const d1 = f32x4.splat(ue4m3Half(<u32>load<u8>(src + 2 * h + 1)));
      storeScaled(dst + 128 * h, i8x16.swizzle(levels, first), d0);
      storeScaled(dst + 128 * h + 64, i8x16.swizzle(levels, second), d1);
    }
  }
}

/**
 * The trits of 16 base-3 digit bytes (ggml's x = byte·3ⁿ mod 256) as i8 lanes −1, 0 or 1:
 * (3x >> 8) − 1, which is 1 for x ≥ 171, 0 for 86 ≤ x < 171, −1 below (byte compares,
 * each −1 where true).
 */
@inline function digitTrits(x: v128): v128 {
  const one = i8x16.eq(i8x16.max_u(x, i8x16.splat(86)), x);
  const two = i8x16.eq(i8x16.max_u(x, i8x16.splat(<i8>171)), x);
  return i8x16.sub(i8x16.sub(i8x16.splat(-1), one), two);
}

/** 16 bytes times 3, mod 256: the next base-3 digit's bytes. */
@inline function times3(x: v128): v128 {
  return i8x16.add(i8x16.add(x, x), x);
}

/**
 * TQ1_0: 54 bytes, 48 bytes of five trits each, 4 bytes of four trits each, half d;
 * w = (trit − 1)·d, in ggml's order (digit n of bytes 0–31, then of 32–47, then of 48–51).
 * Digit n's bytes are byte·3ⁿ mod 256, each three times the last, by byte adds.
 */
export function tq1_0(src: usize, dst: usize, blocks: i32, fp16: usize): void {
  for (let b = 0; b < blocks; b++, src += 54, dst += 1024) {
    const d = f32x4.splat(half(fp16, src + 52));
    let a = v128.load(src);
    let c = v128.load(src, 16);
    let e = v128.load(src, 32);
    for (let n: usize = 0; n < 5; n++) {
      storeScaled(dst + 128 * n, digitTrits(a), d);
      storeScaled(dst + 128 * n + 64, digitTrits(c), d);
      storeScaled(dst + 640 + 64 * n, digitTrits(e), d);
      a = times3(a);
      c = times3(c);
      e = times3(e);
    }
    // The last 16: digit n of byte 48 + j is weight 4n + j (lanes 4n … 4n + 3 times 3ⁿ).
    const h = i32x4.splat(load<u32>(src, 48));
    const h3 = times3(h);
    const h9 = times3(h3);
    const h27 = times3(h9);
    const low = i32x4.shuffle(h, h3, 0, 5, 2, 7);
    const high = i32x4.shuffle(h9, h27, 0, 5, 2, 7);
    storeScaled(dst + 960, digitTrits(i32x4.shuffle(low, high, 0, 1, 6, 7)), d);
  }
}

/**
 * 32 bytes of TQ2_0 quants (`a`, `c`) at their four shifts: (q − 1)·d, 128 floats at `dst`.
 * The 16-bit shifts are exact here (the bits they bring in from the next byte are masked
 * off) and native, where WebAssembly's byte shifts are emulated.
 */
@inline function tq2Quarters(dst: usize, a: v128, c: v128, d: v128): void {
  const three = i8x16.splat(3);
  const one = i8x16.splat(1);
  storeScaled(dst, i8x16.sub(v128.and(a, three), one), d);
  storeScaled(dst + 64, i8x16.sub(v128.and(c, three), one), d);
  storeScaled(dst + 128, i8x16.sub(v128.and(i16x8.shr_u(a, 2), three), one), d);
  storeScaled(dst + 192, i8x16.sub(v128.and(i16x8.shr_u(c, 2), three), one), d);
  storeScaled(dst + 256, i8x16.sub(v128.and(i16x8.shr_u(a, 4), three), one), d);
  storeScaled(dst + 320, i8x16.sub(v128.and(i16x8.shr_u(c, 4), three), one), d);
  storeScaled(dst + 384, i8x16.sub(v128.and(i16x8.shr_u(a, 6), three), one), d);
  storeScaled(dst + 448, i8x16.sub(v128.and(i16x8.shr_u(c, 6), three), one), d);
}

/** TQ2_0: 66 bytes, 64 bytes of 2-bit quants and half d; w = (q − 1)·d. */
export function tq2_0(src: usize, dst: usize, blocks: i32, fp16: usize): void {
  for (let b = 0; b < blocks; b++, src += 66, dst += 1024) {
    const d = f32x4.splat(half(fp16, src + 64));
    tq2Quarters(dst, v128.load(src), v128.load(src, 16), d);
    tq2Quarters(dst + 512, v128.load(src, 32), v128.load(src, 48), d);
  }
}

/** Q1_0: 18 bytes, half d and 128 sign bits (bit j of byte k: weight 8k + j); w = ±d. */
export function q1_0(src: usize, dst: usize, blocks: i32, fp16: usize): void {
  const low = i32x4(1, 2, 4, 8);
  const high = i32x4(16, 32, 64, 128);
  for (let b = 0; b < blocks; b++, src += 18, dst += 512) {
    const d = f32x4.splat(half(fp16, src));
    const negative = f32x4.neg(d);
    for (let k: usize = 0; k < 16; k++) {
      const bits = i32x4.splat(<i32>load<u8>(src + 2 + k));
      v128.store(dst + 32 * k, v128.bitselect(d, negative, i32x4.eq(v128.and(bits, low), low)));
      v128.store(dst + 32 * k, v128.bitselect(d, negative, i32x4.eq(v128.and(bits, high), high)), 16);
    }
  }
}

/** Q2_0: 18 bytes, half d and 64 2-bit quants (weight 4k + c: bits 2c of byte k); w = (q − 1)·d. */
export function q2_0(src: usize, dst: usize, blocks: i32, fp16: usize): void {
  const three = i8x16.splat(3);
  const one = i8x16.splat(1);
  for (let b = 0; b < blocks; b++, src += 18, dst += 256) {
    const d = f32x4.splat(half(fp16, src));
    const q = v128.load(src, 2);
    const a0 = i8x16.sub(v128.and(q, three), one);
    const a1 = i8x16.sub(v128.and(i8x16.shr_u(q, 2), three), one);
    const a2 = i8x16.sub(v128.and(i8x16.shr_u(q, 4), three), one);
    const a3 = i8x16.sub(i8x16.shr_u(q, 6), one);
    // Interleave the four crumbs of each byte back into weight order.
    const p01 = i8x16.shuffle(a0, a1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const q01 = i8x16.shuffle(a0, a1, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const p23 = i8x16.shuffle(a2, a3, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const q23 = i8x16.shuffle(a2, a3, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    storeScaled(dst, i8x16.shuffle(p01, p23, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23), d);
    storeScaled(dst + 64, i8x16.shuffle(p01, p23, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31), d);
    storeScaled(dst + 128, i8x16.shuffle(q01, q23, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23), d);
    storeScaled(dst + 192, i8x16.shuffle(q01, q23, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31), d);
  }
}

// ---- Grid types (IQ2, IQ3, IQ1) ------------------------------------------------------
// Their grids are in memory after the half table (`tables` is that table's address); the
// JavaScript side (simd_kernels.ts, GRIDS) writes them there at these offsets.

const IQ2XXS_GRID: usize = 262144; // 256 entries of 8 bytes
const IQ2XS_GRID: usize = 264192; // 512 × 8
const IQ2S_GRID: usize = 268288; // 1024 × 8
const IQ3XXS_GRID: usize = 276480; // 256 × 4
const IQ3S_GRID: usize = 277504; // 512 × 4
const IQ1S_GRID: usize = 279552; // 2048 × 8, signed

/** ggml's ksigns_iq2xs: 7 stored sign bits, and an eighth that makes their count even. */
@inline function signByte(bits: u32): u32 {
  return bits | ((popcnt(bits) & 1) << 7);
}

/**
 * 16 grid magnitudes (i8 lanes) with their signs: lanes 0–7 flipped where bits of
 * `signsA` are set, lanes 8–15 by `signsB` (ggml's kmask_iq2xs: bit j, weight j).
 */
@inline function withSigns(magnitudes: v128, signsA: u32, signsB: u32): v128 {
  const signs = i8x16.shuffle(
    i8x16.splat(<i8>signsA),
    i8x16.splat(<i8>signsB),
    0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23,
  );
  const bits = i8x16(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
  const negative = i8x16.eq(v128.and(signs, bits), bits);
  return i8x16.sub(v128.xor(magnitudes, negative), negative);
}

/** Two 8-byte grid entries, at `a` and `b`, as 16 i8 lanes. */
@inline function twoEntries(a: usize, b: usize): v128 {
  return i64x2.replace_lane(i64x2.splat(load<i64>(a)), 1, load<i64>(b));
}

/** Four 4-byte grid entries as 16 i8 lanes. */
@inline function fourEntries(a: usize, b: usize, c: usize, e: usize): v128 {
  let v = i32x4.splat(load<i32>(a));
  v = i32x4.replace_lane(v, 1, load<i32>(b));
  v = i32x4.replace_lane(v, 2, load<i32>(c));
  return i32x4.replace_lane(v, 3, load<i32>(e));
}

/** IQ2_XXS: 66 bytes, half d, 8 runs of 32: 4 grid bytes, 4 × 7 sign bits and a scale. */
export function iq2_xxs(src: usize, dst: usize, blocks: i32, tables: usize): void {
  const grid = tables + IQ2XXS_GRID;
  for (let b = 0; b < blocks; b++, src += 66, dst += 1024) {
    const d = half(tables, src);
    for (let ib: usize = 0; ib < 8; ib++) {
      const q = src + 2 + 8 * ib;
      const aux = load<u32>(q, 4);
      const db = f32x4.splat(d * (<f32>0.5 + <f32>(aux >> 28)) * <f32>0.25);
      const out = dst + 128 * ib;
      for (let l: usize = 0; l < 4; l += 2) {
        const g = twoEntries(grid + 8 * <usize>load<u8>(q + l), grid + 8 * <usize>load<u8>(q + l + 1));
        const sa = signByte((aux >> (7 * <u32>l)) & 127);
        const sb = signByte((aux >> (7 * <u32>l + 7)) & 127);
        storeScaled(out + 32 * l, withSigns(g, sa, sb), db);
      }
    }
  }
}

/** IQ2_XS: 74 bytes, half d, 32 u16 of 9 grid bits and 7 sign bits, 8 bytes of scales. */
export function iq2_xs(src: usize, dst: usize, blocks: i32, tables: usize): void {
  const grid = tables + IQ2XS_GRID;
  for (let b = 0; b < blocks; b++, src += 74, dst += 1024) {
    const d = half(tables, src);
    for (let ib: usize = 0; ib < 8; ib++) {
      const scales = <u32>load<u8>(src + 66 + ib);
      const q = src + 2 + 8 * ib;
      const out = dst + 128 * ib;
      for (let l: usize = 0; l < 4; l += 2) {
        const scale = l == 0 ? scales & 15 : scales >> 4;
        const db = f32x4.splat(d * (<f32>0.5 + <f32>scale) * <f32>0.25);
        const a = <u32>load<u16>(q + 2 * l);
        const c = <u32>load<u16>(q + 2 * l + 2);
        const g = twoEntries(grid + 8 * <usize>(a & 511), grid + 8 * <usize>(c & 511));
        storeScaled(out + 32 * l, withSigns(g, signByte(a >> 9), signByte(c >> 9)), db);
      }
    }
  }
}

/**
 * IQ2_S: 82 bytes, half d, 32 bytes of low grid bits, 32 of signs, 8 of high grid bits,
 * 8 of scales.
 */
export function iq2_s(src: usize, dst: usize, blocks: i32, tables: usize): void {
  const grid = tables + IQ2S_GRID;
  for (let b = 0; b < blocks; b++, src += 82, dst += 1024) {
    const d = half(tables, src);
    for (let ib: usize = 0; ib < 8; ib++) {
      const scales = <u32>load<u8>(src + 74 + ib);
      const high = <u32>load<u8>(src + 66 + ib);
      const q = src + 2 + 4 * ib;
      const signs = src + 34 + 4 * ib;
      const out = dst + 128 * ib;
      for (let l: usize = 0; l < 4; l += 2) {
        const scale = l == 0 ? scales & 15 : scales >> 4;
        const db = f32x4.splat(d * (<f32>0.5 + <f32>scale) * <f32>0.25);
        const a = <u32>load<u8>(q + l) | ((high << (8 - 2 * <u32>l)) & 0x300);
        const c = <u32>load<u8>(q + l + 1) | ((high << (6 - 2 * <u32>l)) & 0x300);
        const g = twoEntries(grid + 8 * <usize>a, grid + 8 * <usize>c);
        const sa = <u32>load<u8>(signs + l);
        const sb = <u32>load<u8>(signs + l + 1);
        storeScaled(out + 32 * l, withSigns(g, sa, sb), db);
      }
    }
  }
}

/** IQ3_XXS: 98 bytes, half d, 64 grid bytes, 8 u32 of 4 × 7 sign bits and a scale. */
export function iq3_xxs(src: usize, dst: usize, blocks: i32, tables: usize): void {
  const grid = tables + IQ3XXS_GRID;
  for (let b = 0; b < blocks; b++, src += 98, dst += 1024) {
    const d = half(tables, src);
    for (let ib: usize = 0; ib < 8; ib++) {
      const aux = load<u32>(src + 66 + 4 * ib);
      const db = f32x4.splat(d * (<f32>0.5 + <f32>(aux >> 28)) * <f32>0.5);
      const q = src + 2 + 8 * ib;
      const out = dst + 128 * ib;
      for (let l: usize = 0; l < 4; l += 2) {
        const g = fourEntries(
          grid + 4 * <usize>load<u8>(q + 2 * l),
          grid + 4 * <usize>load<u8>(q + 2 * l + 1),
          grid + 4 * <usize>load<u8>(q + 2 * l + 2),
          grid + 4 * <usize>load<u8>(q + 2 * l + 3),
        );
        const sa = signByte((aux >> (7 * <u32>l)) & 127);
        const sb = signByte((aux >> (7 * <u32>l + 7)) & 127);
        storeScaled(out + 32 * l, withSigns(g, sa, sb), db);
      }
    }
  }
}

/**
 * IQ3_S: 110 bytes, half d, 64 bytes of low grid bits, 8 of high, 32 of signs, 4 of
 * scales; w = (d·(1 + 2·scale))·(±grid).
 */
export function iq3_s(src: usize, dst: usize, blocks: i32, tables: usize): void {
  const grid = tables + IQ3S_GRID;
  for (let b = 0; b < blocks; b++, src += 110, dst += 1024) {
    const d = half(tables, src);
    for (let ib: usize = 0; ib < 8; ib++) {
      const scale = (<u32>load<u8>(src + 106 + (ib >> 1)) >> (4 * (<u32>ib & 1))) & 15;
      const db = f32x4.splat(d * <f32>(scale * 2 + 1));
      const high = <u32>load<u8>(src + 66 + ib);
      const q = src + 2 + 8 * ib;
      const signs = src + 74 + 4 * ib;
      const out = dst + 128 * ib;
      for (let l: usize = 0; l < 4; l += 2) {
        const sh = (8 - 2 * <u32>l);
        const g = fourEntries(
          grid + 4 * <usize>(<u32>load<u8>(q + 2 * l) | ((high << sh) & 256)),
          grid + 4 * <usize>(<u32>load<u8>(q + 2 * l + 1) | ((high << (sh - 1)) & 256)),
          grid + 4 * <usize>(<u32>load<u8>(q + 2 * l + 2) | ((high << (sh - 2)) & 256)),
          grid + 4 * <usize>(<u32>load<u8>(q + 2 * l + 3) | ((high << (sh - 3)) & 256)),
        );
        const sa = <u32>load<u8>(signs + l);
        const sb = <u32>load<u8>(signs + l + 1);
        storeScaled(out + 32 * l, withSigns(g, sa, sb), db);
      }
    }
  }
}

/**
 * 16 grid values `q` (i8 lanes): (q + delta)·dl, 16 floats at `dst`, `deltaA` for lanes
 * 0–7 and `deltaB` for 8–15 (ggml's IQ1 order: the sum first, exact, then the product).
 */
@inline function storeShifted(dst: usize, q: v128, dl: v128, deltaA: v128, deltaB: v128): void {
  const lo = i16x8.extend_low_i8x16_s(q);
  const hi = i16x8.extend_high_i8x16_s(q);
  const a = f32x4.add(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(lo)), deltaA);
  const b = f32x4.add(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(lo)), deltaA);
  const c = f32x4.add(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(hi)), deltaB);
  const e = f32x4.add(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(hi)), deltaB);
  v128.store(dst, f32x4.mul(dl, a));
  v128.store(dst, f32x4.mul(dl, b), 16);
  v128.store(dst, f32x4.mul(dl, c), 32);
  v128.store(dst, f32x4.mul(dl, e), 48);
}

/** ggml's IQ1S_DELTA, negated where `negative`. */
@inline function iq1Delta(negative: bool): v128 {
  return f32x4.splat(negative ? <f32>-0.125 : <f32>0.125);
}

/** IQ1_S: 50 bytes, half d, 32 bytes of low grid bits, 8 u16 of high bits, scale, sign. */
export function iq1_s(src: usize, dst: usize, blocks: i32, tables: usize): void {
  const grid = tables + IQ1S_GRID;
  for (let b = 0; b < blocks; b++, src += 50, dst += 1024) {
    const d = half(tables, src);
    for (let ib: usize = 0; ib < 8; ib++) {
      const qh = <u32>load<u16>(src + 34 + 2 * ib);
      const dl = f32x4.splat(d * <f32>(((qh >> 12) & 7) * 2 + 1));
      const delta = iq1Delta((qh & 0x8000) != 0);
      const q = src + 2 + 4 * ib;
      const out = dst + 128 * ib;
      for (let l: usize = 0; l < 4; l += 2) {
        const a = <u32>load<u8>(q + l) | (((qh >> (3 * <u32>l)) & 7) << 8);
        const c = <u32>load<u8>(q + l + 1) | (((qh >> (3 * <u32>l + 3)) & 7) << 8);
        storeShifted(out + 32 * l, twoEntries(grid + 8 * <usize>a, grid + 8 * <usize>c), dl, delta, delta);
      }
    }
  }
}

/**
 * IQ1_M: 56 bytes, 32 bytes of low grid bits, 16 of high bits and delta signs, 8 of
 * 3-bit scales whose top nibbles hold the half d.
 */
export function iq1_m(src: usize, dst: usize, blocks: i32, tables: usize): void {
  const grid = tables + IQ1S_GRID;
  for (let b = 0; b < blocks; b++, src += 56, dst += 1024) {
    const s0 = <u32>load<u16>(src + 48);
    const s1 = <u32>load<u16>(src + 50);
    const s2 = <u32>load<u16>(src + 52);
    const s3 = <u32>load<u16>(src + 54);
    const bits = (s0 >> 12) | ((s1 >> 8) & 0x00f0) | ((s2 >> 4) & 0x0f00) | (s3 & 0xf000);
    const d = load<f32>(tables + (<usize>bits << 2));
    for (let ib: usize = 0; ib < 8; ib++) {
      const sc = <u32>load<u16>(src + 48 + 2 * (ib >> 1));
      const shift = (6 * (<u32>ib & 1));
      const dl1 = f32x4.splat(d * <f32>(((sc >> shift) & 7) * 2 + 1));
      const dl2 = f32x4.splat(d * <f32>(((sc >> (shift + 3)) & 7) * 2 + 1));
      const q = src + 4 * ib;
      const h0 = <u32>load<u8>(src + 32 + 2 * ib);
      const h1 = <u32>load<u8>(src + 33 + 2 * ib);
      const out = dst + 128 * ib;
      const g01 = twoEntries(
        grid + 8 * <usize>(<u32>load<u8>(q) | ((h0 << 8) & 0x700)),
        grid + 8 * <usize>(<u32>load<u8>(q + 1) | ((h0 << 4) & 0x700)),
      );
      const g23 = twoEntries(
        grid + 8 * <usize>(<u32>load<u8>(q + 2) | ((h1 << 8) & 0x700)),
        grid + 8 * <usize>(<u32>load<u8>(q + 3) | ((h1 << 4) & 0x700)),
      );
      storeShifted(out, g01, dl1, iq1Delta((h0 & 0x08) != 0), iq1Delta((h0 & 0x80) != 0));
      storeShifted(out + 64, g23, dl2, iq1Delta((h1 & 0x08) != 0), iq1Delta((h1 & 0x80) != 0));
    }
  }
}

// ---- Quantization --------------------------------------------------------------------

/** The bits of the IEEE half nearest `x` (ties to even), for a finite x ≥ 0. */
@inline function toHalf(x: f32): u32 {
  const abs = reinterpret<u32>(x);
  if (abs >= 0x47800000) return 0x7c00; // 2^16 and up: no half holds it
  if (abs >= 0x38800000) {
    const dropped = abs & 0x1fff;
    let half = (abs - 0x38000000) >> 13;
    if (dropped > 0x1000 || (dropped == 0x1000 && (half & 1) != 0)) half++;
    return half;
  }
  if (abs <= 0x33000000) return 0;
  const shift = 126 - (abs >> 23);
  const significand = (abs & 0x7fffff) | 0x800000;
  let half = significand >> shift;
  const dropped = significand & ((1 << shift) - 1);
  const tie: u32 = 1 << (shift - 1);
  if (dropped > tie || (dropped == tie && (half & 1) != 0)) half++;
  return half;
}

/** The largest magnitude among 32 values (NaN if one is NaN). */
@inline function largestMagnitude(
  x0: v128, x1: v128, x2: v128, x3: v128, x4: v128, x5: v128, x6: v128, x7: v128,
): f32 {
  let m = f32x4.max(
    f32x4.max(f32x4.max(f32x4.abs(x0), f32x4.abs(x1)), f32x4.max(f32x4.abs(x2), f32x4.abs(x3))),
    f32x4.max(f32x4.max(f32x4.abs(x4), f32x4.abs(x5)), f32x4.max(f32x4.abs(x6), f32x4.abs(x7))),
  );
  m = f32x4.max(m, i32x4.shuffle(m, m, 2, 3, 0, 1));
  m = f32x4.max(m, i32x4.shuffle(m, m, 1, 0, 3, 2));
  return f32x4.extract_lane(m, 0);
}

/** roundf (ties away from zero) of 4 finite values, as i32 lanes. */
@inline function roundAway(v: v128): v128 {
  const t = f32x4.trunc(v);
  const away = f32x4.ge(f32x4.abs(f32x4.sub(v, t)), f32x4.splat(0.5));
  const one = v128.or(v128.and(v, i32x4.splat(0x80000000)), f32x4.splat(1));
  return i32x4.trunc_sat_f32x4_s(f32x4.add(t, v128.and(away, one)));
}

/**
 * Q8_0 from float32, as ggml's quantize_row_q8_0_ref: d = max|x| / 127, q = roundf(x / d).
 * Quantizes blocks from the first until one whose max|x| is not finite or whose 1/d
 * overflows (the caller quantizes that one its own way); returns how many it wrote.
 */
export function q8_0_from_f32(src: usize, dst: usize, blocks: i32): i32 {
  for (let b = 0; b < blocks; b++, src += 128, dst += 34) {
    const x0 = v128.load(src);
    const x1 = v128.load(src, 16);
    const x2 = v128.load(src, 32);
    const x3 = v128.load(src, 48);
    const x4 = v128.load(src, 64);
    const x5 = v128.load(src, 80);
    const x6 = v128.load(src, 96);
    const x7 = v128.load(src, 112);
    const amax = largestMagnitude(x0, x1, x2, x3, x4, x5, x6, x7);
    if (!(amax <= f32.MAX_VALUE)) return b; // NaN or Inf
    const d: f32 = amax / 127;
    const id: f32 = d != 0 ? <f32>1 / d : 0;
    if (!(id <= f32.MAX_VALUE)) return b;
    store<u16>(dst, <u16>toHalf(d));
    const s = f32x4.splat(id);
    const a = i16x8.narrow_i32x4_s(roundAway(f32x4.mul(x0, s)), roundAway(f32x4.mul(x1, s)));
    const c = i16x8.narrow_i32x4_s(roundAway(f32x4.mul(x2, s)), roundAway(f32x4.mul(x3, s)));
    const e = i16x8.narrow_i32x4_s(roundAway(f32x4.mul(x4, s)), roundAway(f32x4.mul(x5, s)));
    const g = i16x8.narrow_i32x4_s(roundAway(f32x4.mul(x6, s)), roundAway(f32x4.mul(x7, s)));
    v128.store(dst, i8x16.narrow_i16x8_s(a, c), 2);
    v128.store(dst, i8x16.narrow_i16x8_s(e, g), 18);
  }
  return blocks;
}

/** Q4_0's quants of 4 finite values: min(15, trunc(x·id + 8.5)), as i32 lanes. */
@inline function nibbles(x: v128, id: v128): v128 {
  const t = f32x4.add(f32x4.mul(x, id), f32x4.splat(8.5));
  return i32x4.min_s(i32x4.trunc_sat_f32x4_s(t), i32x4.splat(15));
}

/**
 * Q4_0 from float32, as ggml's quantize_row_q4_0_ref: `max` is the first value of the
 * largest magnitude, d = max / −8, q = min(15, (int8)(x / d + 8.5)). Stops, as
 * q8_0_from_f32 does, at a block holding a NaN or an infinity or whose 1/d overflows.
 */
export function q4_0_from_f32(src: usize, dst: usize, blocks: i32): i32 {
  for (let b = 0; b < blocks; b++, src += 128, dst += 18) {
    const x0 = v128.load(src);
    const x1 = v128.load(src, 16);
    const x2 = v128.load(src, 32);
    const x3 = v128.load(src, 48);
    const x4 = v128.load(src, 64);
    const x5 = v128.load(src, 80);
    const x6 = v128.load(src, 96);
    const x7 = v128.load(src, 112);
    const amax = largestMagnitude(x0, x1, x2, x3, x4, x5, x6, x7);
    if (!(amax <= f32.MAX_VALUE)) return b; // NaN or Inf
    // C keeps the first value whose magnitude exceeds all before it; 0 when all are zeros.
    let max: f32 = 0;
    if (amax > 0) {
      const all = f32x4.splat(amax);
      for (let k: usize = 0; k < 8; k++) {
        const hits = i32x4.bitmask(f32x4.eq(f32x4.abs(v128.load(src + 16 * k)), all));
        if (hits != 0) {
          max = load<f32>(src + 16 * k + 4 * <usize>ctz(hits));
          break;
        }
      }
    }
    const d: f32 = max / -8;
    const id: f32 = d != 0 ? <f32>1 / d : 0;
    if (!(Mathf.abs(id) <= f32.MAX_VALUE)) return b;
    store<u16>(dst, <u16>(toHalf(Mathf.abs(d)) | ((reinterpret<u32>(d) >> 16) & 0x8000)));
    const s = f32x4.splat(id);
    const low = i8x16.narrow_i16x8_u(
      i16x8.narrow_i32x4_s(nibbles(x0, s), nibbles(x1, s)),
      i16x8.narrow_i32x4_s(nibbles(x2, s), nibbles(x3, s)),
    );
    const high = i8x16.narrow_i16x8_u(
      i16x8.narrow_i32x4_s(nibbles(x4, s), nibbles(x5, s)),
      i16x8.narrow_i32x4_s(nibbles(x6, s), nibbles(x7, s)),
    );
    v128.store(dst, v128.or(low, i8x16.shl(high, 4)), 2);
  }
  return blocks;
}
