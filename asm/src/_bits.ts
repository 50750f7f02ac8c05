// Bit helpers shared by the WebAssembly modules (dequant.ts, transcode.ts), in
// AssemblyScript; each is inlined where it is called.

// @ts-nocheck: AssemblyScript, not TypeScript (u32, v128, @inline).

/**
 * The fifth bits of a Q5_0/Q5_1 block's 32 quants as 16 or 0 per lane: bits 0–15 of `qh`
 * (`first`) or bits 16–31.
 */
@inline export function fifthBits(qh: u32, first: bool): v128 {
  const bytes = i32x4.splat(qh);
  const spread = first
    ? i8x16.swizzle(bytes, i8x16(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1))
    : i8x16.swizzle(bytes, i8x16(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
  const bits = i8x16(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
  return v128.and(i8x16.eq(v128.and(spread, bits), bits), i8x16.splat(16));
}
