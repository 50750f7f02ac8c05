/**
 * The five trits of every TQ1_0 byte, computed once.
 *
 * TQ1_0 stores five ternary digits in a byte as a fixed-point fraction of 3^5: digit n of
 * byte x (n = 0 is the most significant) is ⌊3 × ((x × 3^n) mod 256) / 256⌋, the
 * expression ggml's `dequantize_row_tq1_0` evaluates per weight. Bytes with four digits
 * (a block's last 4 bytes) use digits 0–3 only.
 *
 * @module
 */

function buildTrits(): Int8Array {
  const table = new Int8Array(256 * 5);
  for (let x = 0; x < 256; x++) {
    for (let n = 0, pow3 = 1; n < 5; n++, pow3 *= 3) {
      table[x * 5 + n] = ((((x * pow3) & 0xff) * 3) >> 8) - 1;
    }
  }
  return table;
}

/** `TQ1_TRITS[5x + n]` is digit n of byte x minus 1: the weight's sign, −1, 0 or +1. */
export const TQ1_TRITS: Int8Array = buildTrits();
