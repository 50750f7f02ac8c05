/**
 * Reading chosen rows of a tensor straight from an opened model, dequantized to float32:
 * only those rows' bytes are read (one range request over HTTP, one slice of a `Blob`).
 *
 * @module
 */
import { formatInteger, GgufError } from "../model/errors.ts";
import { bytesFor, requireGgmlType } from "../model/ggml_type.ts";
import type { TensorInfo } from "../model/gguf_file.ts";
import type { GgufModel } from "../model/gguf_model.ts";
import { checkRowRange, rowDequantizer } from "./_rows.ts";

/** Which rows {@linkcode readTensorRows} reads. */
export interface TensorRowsOptions {
  /** The first row (default 0). A row is `shape[0]` values. */
  firstRow?: number;
  /** How many rows (default: every row from `firstRow` on). */
  rowCount?: number;
  /** Where to write the values; a new array when omitted. */
  into?: Float32Array;
}

/**
 * Reads rows of a tensor and dequantizes them to float32, bit for bit as ggml's
 * `to_float` — for any type with a kernel, whatever the conversion policy.
 *
 * @param model An open model (`openGgufModel`): a file, a URL, a `Blob`, bytes or a stream
 *   (a stream only forward: rows past what was already read).
 * @param tensor The tensor's name, or its index entry.
 * @param options The rows, and where to write.
 * @returns `rowCount × shape[0]` values.
 * @throws {GgufError} `NOT_FOUND` when the model has no such tensor; `UNSUPPORTED_TYPE`
 *   when its type has no kernel; `UNSUPPORTED_BYTE_ORDER` for big-endian blocks.
 * @throws {TypeError} For rows outside the tensor or a short `into`.
 *
 * @example The first row of a quantized tensor
 * ```ts
 * import { openGgufModel } from "gguf-stream/sources";
 * import { readTensorRows } from "gguf-stream/kernels";
 * import assert from "node:assert/strict";
 * const model = await openGgufModel(new URL("../../samples/tiny-llama.gguf", import.meta.url));
 * const row = await readTensorRows(model, "blk.0.attn_q.weight", { rowCount: 1 });
 * assert.equal(row.length, model.tensors[2].shape[0]);
 * assert.ok(row.every(Number.isFinite));
 * await model.close();
 * ```
 */
export async function readTensorRows(
  model: GgufModel,
  tensor: string | TensorInfo,
  options: TensorRowsOptions = {},
): Promise<Float32Array> {
  const name = typeof tensor === "string" ? tensor : tensor.name;
  const index = model.tensors.findIndex((t) => t.name === name);
  if (index < 0) {
    throw new GgufError(
      "NOT_FOUND",
      `Cannot read tensor "${name}": the model has no tensor of that name (${
        formatInteger(model.tensors.length)
      } tensors)`,
    );
  }
  const info = model.tensors[index];
  const part = model.parts[model.tensorParts[index]];
  const rowLength = info.shape[0];
  // The other dimensions' product: a row may hold no values (a dimension of 0, as ggml allows).
  const rows = info.shape.reduce((product, size, d) => d === 0 ? product : product * size, 1);
  const firstRow = options.firstRow ?? 0;
  const rowCount = options.rowCount ?? rows - firstRow;
  checkRowRange(name, firstRow, rowCount, rows);
  const traits = requireGgmlType(info.type);
  const littleEndian = part.header.littleEndian;
  const dequantizer = rowDequantizer(name, traits, littleEndian, rowLength);
  const count = rowCount * rowLength;
  const out = options.into ?? new Float32Array(count);
  if (out.length < count) throw new TypeError(`into holds ${out.length} values, ${count} needed`);
  const rowBytes = bytesFor(traits, rowLength);
  const offset = info.fileOffset + firstRow * rowBytes;
  const length = rowCount * rowBytes;
  const source = part.source;
  const src = source.view(offset, length) ?? await source.read(offset, length);
  dequantizer.kernel(src, out, count / traits.blockSize, littleEndian);
  return out.length === count ? out : out.subarray(0, count);
}
