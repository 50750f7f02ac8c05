/**
 * Dequantizing chosen rows of a converted tensor on demand.
 *
 * @module
 */
import type { ConvertedTensor } from "../model/conversion.ts";
import { bytesFor, requireGgmlType } from "../model/ggml_type.ts";
import { checkRowRange, rowDequantizer } from "./_rows.ts";

/**
 * Dequantizes chosen rows of a tensor on demand — an embedding lookup without the whole
 * table in float32. Float32 tensors are copied.
 *
 * @param tensor A tensor from a conversion (any type with a kernel).
 * @param firstRow The first row (a row is `shape[0]` values).
 * @param rowCount How many rows.
 * @param dst Where to write; a new array when omitted.
 * @returns `rowCount × shape[0]` float32 values.
 * @throws {TypeError} For rows outside the tensor or a short `dst`.
 * @throws {GgufError} `UNSUPPORTED_TYPE` when the type has no kernel; `BAD_BLOCK_SIZE`
 *   when rows are not whole blocks; `UNSUPPORTED_BYTE_ORDER` for big-endian blocks.
 *
 * @example An embedding lookup
 * ```ts
 * import { convertGguf, dequantizeRows } from "gguf-stream";
 * import assert from "node:assert/strict";
 * const model = await convertGguf(new URL("../../samples/tiny-llama.gguf", import.meta.url));
 * const embeddings = model.tensors.get("token_embd.weight")!;
 * assert.equal(embeddings.typeName, "Q4_0"); // in the target: kept as blocks
 * const row = dequantizeRows(embeddings, 7, 1); // token 7 only
 * assert.equal(row.length, embeddings.shape[0]);
 * ```
 */
export function dequantizeRows(
  tensor: ConvertedTensor,
  firstRow: number,
  rowCount: number,
  dst?: Float32Array,
): Float32Array {
  const rowLength = tensor.shape[0];
  const rows = tensor.info.elements / rowLength;
  checkRowRange(tensor.name, firstRow, rowCount, rows);
  const count = rowCount * rowLength;
  const out = dst ?? new Float32Array(count);
  if (out.length < count) throw new TypeError(`dst holds ${out.length} values, ${count} needed`);
  if (tensor.typeName === "F32") {
    out.set(tensor.data.subarray(firstRow * rowLength, firstRow * rowLength + count));
    return out.subarray(0, count);
  }
  const traits = requireGgmlType(tensor.type);
  const dequantizer = rowDequantizer(tensor.name, traits, tensor.littleEndian, rowLength);
  const rowBytes = bytesFor(traits, rowLength);
  const src = tensor.data.subarray(firstRow * rowBytes, (firstRow + rowCount) * rowBytes);
  dequantizer.kernel(src, out, count / traits.blockSize, tensor.littleEndian);
  return out.subarray(0, count);
}
