// gguf-stream's SIMD transcoders, in AssemblyScript, compiled to WebAssembly by
// asm/build.ts into src/convert/simd/_transcode_wasm.ts: the hot lossless pairs into Q8_0
// (Q4_0 and IQ4_NL through a 16-level table, Q5_0), byte for byte as the portable kernels
// in src/convert/transcode/, and the sum of the squared values of the same blocks (the
// reference a measured conversion needs, without dequantizing them). Little-endian blocks
// only; memory is laid out by the caller.

// @ts-nocheck: AssemblyScript, not TypeScript (usize, v128, load<T>, @inline).

/**
 * 18-byte blocks of a half `d` and 16 bytes of 4-bit codes (value j in the low nibble of
 * byte j, value j + 16 in its high one) into 34-byte Q8_0 blocks: `d` copied, each code
 * replaced by its signed level from the 16 bytes at `levels`.
 */
export function nibbles_q8_0(src: usize, dst: usize, blocks: i32, levels: usize): void {
  const table = v128.load(levels);
  const mask = i8x16.splat(15);
  for (let b = 0; b < blocks; b++, src += 18, dst += 34) {
    store<u16>(dst, load<u16>(src));
    const q = v128.load(src, 2);
    v128.store(dst, i8x16.swizzle(table, v128.and(q, mask)), 2);
    v128.store(dst, i8x16.swizzle(table, i8x16.shr_u(q, 4)), 18);
  }
}

/**
 * The fifth bits of a Q5_0 block's 32 codes as 16 or 0 per lane: bits 0–15 of `qh`
 * (`first`) or bits 16–31.
 */
@inline function fifthBits(qh: u32, first: bool): v128 {
  const bytes = i32x4.splat(qh);
  const spread = first
    ? i8x16.swizzle(bytes, i8x16(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1))
    : i8x16.swizzle(bytes, i8x16(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
  const bits = i8x16(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
  return v128.and(i8x16.eq(v128.and(spread, bits), bits), i8x16.splat(16));
}

/** The 32 signed codes (q − 16) of the Q5_0 block at `src`, low half then high half. */
@inline function q5Low(src: usize): v128 {
  const q = v128.load(src, 6);
  const h = fifthBits(load<u32>(src, 2), true);
  return i8x16.sub(v128.or(v128.and(q, i8x16.splat(15)), h), i8x16.splat(16));
}

@inline function q5High(src: usize): v128 {
  const q = v128.load(src, 6);
  const h = fifthBits(load<u32>(src, 2), false);
  return i8x16.sub(v128.or(i8x16.shr_u(q, 4), h), i8x16.splat(16));
}

/** 22-byte Q5_0 blocks (half d, 32 fifth bits, nibbles; w = (q − 16)·d) into Q8_0 blocks. */
export function q5_0_q8_0(src: usize, dst: usize, blocks: i32): void {
  for (let b = 0; b < blocks; b++, src += 22, dst += 34) {
    store<u16>(dst, load<u16>(src));
    v128.store(dst, q5Low(src), 2);
    v128.store(dst, q5High(src), 18);
  }
}

/**
 * The square of the half `h` as a double (exact: 22 significant bits at most), or −1 for
 * an infinite or NaN half.
 */
@inline function halfSquared(h: u32): f64 {
  const exponent = (h >> 10) & 31;
  if (exponent == 31) return -1;
  const mantissa = h & 1023;
  // A subnormal is mantissa·2^-24; a normal (1024 + mantissa)·2^(exponent − 25).
  const m = <f64>(exponent == 0 ? mantissa : mantissa | 1024);
  const e = exponent == 0 ? -24 : <i32>exponent - 25;
  const p = reinterpret<f64>(<u64>(1023 + e) << 52);
  const v = m * p;
  return v * v;
}

/** Σ over 32 signed codes (two i8x16 vectors) of code², as an integer. */
@inline function squares32(a: v128, b: v128): i32 {
  const a0 = i16x8.extend_low_i8x16_s(a);
  const a1 = i16x8.extend_high_i8x16_s(a);
  const b0 = i16x8.extend_low_i8x16_s(b);
  const b1 = i16x8.extend_high_i8x16_s(b);
  const s = i32x4.add(
    i32x4.add(i32x4.dot_i16x8_s(a0, a0), i32x4.dot_i16x8_s(a1, a1)),
    i32x4.add(i32x4.dot_i16x8_s(b0, b0), i32x4.dot_i16x8_s(b1, b1)),
  );
  return i32x4.extract_lane(s, 0) + i32x4.extract_lane(s, 1) + i32x4.extract_lane(s, 2) +
    i32x4.extract_lane(s, 3);
}

/**
 * `sum` plus d²·Σcode² of each 18-byte nibble block at `src` whose half d is finite, in
 * order: the sum of the squares of their values (each block's term exact; an infinite or
 * NaN d makes every value of its block not finite, and those are left out).
 */
export function nibbles_squares(src: usize, blocks: i32, levels: usize, sum: f64): f64 {
  const table = v128.load(levels);
  const mask = i8x16.splat(15);
  for (let b = 0; b < blocks; b++, src += 18) {
    const dd = halfSquared(load<u16>(src));
    if (dd < 0) continue;
    const q = v128.load(src, 2);
    const n = squares32(
      i8x16.swizzle(table, v128.and(q, mask)),
      i8x16.swizzle(table, i8x16.shr_u(q, 4)),
    );
    sum += dd * <f64>n;
  }
  return sum;
}

/** As {@linkcode nibbles_squares}, over 22-byte Q5_0 blocks. */
export function q5_0_squares(src: usize, blocks: i32, sum: f64): f64 {
  for (let b = 0; b < blocks; b++, src += 22) {
    const dd = halfSquared(load<u16>(src));
    if (dd < 0) continue;
    sum += dd * <f64>squares32(q5Low(src), q5High(src));
  }
  return sum;
}

/** Where the caller may lay out its buffers. */
export function heap_base(): usize {
  return __heap_base;
}
