/**
 * The packed 6-bit scales and mins shared by Q4_K and Q5_K: 12 bytes holding eight
 * (scale, min) pairs.
 *
 * @module
 */

/**
 * Unpacks the eight 6-bit scales and mins of a Q4_K/Q5_K block (12 bytes at `at`) into
 * `scales[0..7]` and `mins[0..7]`.
 */
export function unpackKScaleMin(
  src: Uint8Array,
  at: number,
  scales: Uint8Array,
  mins: Uint8Array,
): void {
  for (let j = 0; j < 4; j++) {
    scales[j] = src[at + j] & 63;
    mins[j] = src[at + j + 4] & 63;
  }
  for (let j = 4; j < 8; j++) {
    scales[j] = (src[at + j + 4] & 0x0f) | ((src[at + j - 4] >> 6) << 4);
    mins[j] = (src[at + j + 4] >> 4) | ((src[at + j] >> 6) << 4);
  }
}
