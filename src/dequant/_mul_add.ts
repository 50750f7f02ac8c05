/**
 * `a × b ± c` rounded as ggml's float32 C code rounds it. In every kernel that uses
 * these, `a × b` is exact in float32 (a half scale's 11-bit significand times 6-bit
 * integers fits in 24 bits), so the only rounding is the final one and the result is the
 * same whether or not the C compiler contracted the expression into an FMA. Computing in
 * float64 and storing to a `Float32Array` rounds once, exactly like C.
 *
 * @module
 */

/** Returns float32(float32(a × b) + c) for float32 inputs. */
export function mulAdd32(a: number, b: number, c: number): number {
  return Math.fround(a * b) + c;
}

/** Returns float32(float32(a × b) − c) for float32 inputs. */
export function mulSub32(a: number, b: number, c: number): number {
  return Math.fround(a * b) - c;
}
