/**
 * `a × b + c` rounded as ggml's float32 C code rounds it: the product to float32 first,
 * then the sum.
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
