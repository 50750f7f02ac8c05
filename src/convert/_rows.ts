/**
 * The checks shared by the two row readers ({@linkcode readTensorRows} of a model's tensor,
 * `dequantizeRows()` of a converted one): a row range inside the tensor, and a kernel that
 * can read its rows.
 *
 * @module
 */
import { GgufError } from "../model/errors.ts";
import type { GgmlTypeTraits } from "../model/ggml_type.ts";
import { type Dequantizer, dequantizerOf, noKernelReason } from "./kernels.ts";

/**
 * Checks a caller's row range against a tensor of `rows` rows.
 *
 * @throws {TypeError} For a range that is not whole rows inside the tensor.
 */
export function checkRowRange(
  name: string,
  firstRow: number,
  rowCount: number,
  rows: number,
): void {
  if (
    !Number.isSafeInteger(firstRow) || !Number.isSafeInteger(rowCount) || firstRow < 0 ||
    rowCount < 0 || firstRow + rowCount > rows
  ) {
    throw new TypeError(
      `Rows ${firstRow}..${firstRow + rowCount} are outside tensor "${name}" (${rows} rows)`,
    );
  }
}

/**
 * The dequantizer that reads whole rows of a tensor of type `traits`.
 *
 * @throws {GgufError} `UNSUPPORTED_TYPE` (no kernel, and why where there is more to say),
 *   `UNSUPPORTED_BYTE_ORDER` (big-endian blocks), `BAD_BLOCK_SIZE` (rows that are not whole
 *   blocks).
 */
export function rowDequantizer(
  name: string,
  traits: GgmlTypeTraits,
  littleEndian: boolean,
  rowLength: number,
): Dequantizer {
  const dequantizer = dequantizerOf(traits);
  if (dequantizer === undefined) {
    const why = noKernelReason(traits);
    throw new GgufError(
      "UNSUPPORTED_TYPE",
      `Cannot dequantize "${name}": gguf-stream has no ${traits.name} kernel${
        why === undefined ? "" : ` (${why})`
      }`,
    );
  }
  if (!littleEndian && !dequantizer.endianAware) {
    throw new GgufError(
      "UNSUPPORTED_BYTE_ORDER",
      `Cannot dequantize "${name}": ${traits.name} blocks in a big-endian file are not supported`,
    );
  }
  if (rowLength % traits.blockSize !== 0) {
    throw new GgufError(
      "BAD_BLOCK_SIZE",
      `Cannot dequantize rows of "${name}": its rows (${rowLength} values) are not whole ${traits.name} blocks of ${traits.blockSize}`,
    );
  }
  return dequantizer;
}
