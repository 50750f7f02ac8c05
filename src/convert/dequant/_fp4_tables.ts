/**
 * Tables shared by the 4-bit float types MXFP4 and NVFP4.
 *
 * `KVALUES_FP4` is data from ggml (MIT licence): `kvalues_fp4` (alias `kvalues_mxfp4`) in
 * `src/ggml-common.h` of github.com/ggml-org/ggml at commit
 * d99724f2b141fed9e1a9f402213506c081433465. The two scale tables are computed here, once,
 * from the E8M0 and UE4M3 format definitions, and hold the same values as ggml's
 * `ggml_e8m0_to_fp32_half` and `ggml_ue4m3_to_fp32` (`src/ggml-impl.h`, same commit) for
 * every byte.
 *
 * ggml stores the E2M1 values doubled (so they are integers) and halves the scales to
 * compensate; these tables follow the same convention, so `KVALUES_FP4[q] × scale[e]` is
 * the weight.
 *
 * @module
 */

/**
 * The 16 E2M1 values, doubled: index bit 3 is the sign, bits 0–2 pick
 * 0, 0.5, 1, 1.5, 2, 3, 4 or 6 (stored × 2).
 */
export const KVALUES_FP4: Int8Array = Int8Array.of(
  0,
  1,
  2,
  3,
  4,
  6,
  8,
  12,
  0,
  -1,
  -2,
  -3,
  -4,
  -6,
  -8,
  -12,
);

/**
 * Builds the halved E8M0 scale table: byte `e` means 2^(e − 127), so the halved value is
 * 2^(e − 128). Every entry is a power of two in float32 range (2^-128 and 2^-127 are
 * subnormal), so the double computed here converts to float32 exactly. Byte 255 gives
 * 2^127, not NaN, as in ggml.
 */
function buildE8m0Half(): Float32Array {
  const table = new Float32Array(256);
  for (let e = 0; e < 256; e++) table[e] = 2 ** (e - 128);
  return table;
}

/**
 * Builds the halved UE4M3 scale table: an unsigned float with 4 exponent bits (bias 7)
 * and 3 mantissa bits; bit 7 is ignored. Exponent 0 is subnormal (m/8 × 2^-6). Byte 0x7f
 * (NaN in E4M3) decodes to 0, as in ggml, which tests the whole byte: 0xff decodes like
 * 0x7f would without that test (480). Every entry has at most 4 significant bits, so the
 * double computed here is exact in float32.
 */
function buildUe4m3Half(): Float32Array {
  const table = new Float32Array(256);
  for (let x = 0; x < 256; x++) {
    const exponent = (x >> 3) & 0x0f;
    const mantissa = x & 7;
    let value: number;
    if (x === 0x7f) value = 0;
    else if (exponent === 0) value = mantissa / 8 * 2 ** -6;
    else value = (1 + mantissa / 8) * 2 ** (exponent - 7);
    table[x] = value / 2;
  }
  return table;
}

/** Half the value of each E8M0 scale byte (ggml's `ggml_e8m0_to_fp32_half`). */
export const E8M0_TO_F32_HALF: Float32Array = buildE8m0Half();

/** Half the value of each UE4M3 scale byte (ggml's `ggml_ue4m3_to_fp32`, which halves). */
export const UE4M3_TO_F32_HALF: Float32Array = buildUe4m3Half();
