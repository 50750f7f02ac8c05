/**
 * Reading chosen rows of a tensor straight from an opened model, dequantized to float32:
 * only those rows' bytes are read (one range request over HTTP, one slice of a `Blob`).
 *
 * @module
 */
import type { ByteSource } from "../model/byte_source.ts";
import { formatInteger, GgufError } from "../model/errors.ts";
import { bytesFor, type GgmlTypeTraits, requireGgmlType } from "../model/ggml_type.ts";
import type { TensorInfo } from "../model/gguf_file.ts";
import type { GgufModel } from "../model/gguf_model.ts";
import { checkRowRange, rowDequantizer } from "./_rows.ts";
import type { Dequantizer } from "./kernels.ts";

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
 *   when its type has no kernel; `UNSUPPORTED_BYTE_ORDER` for big-endian blocks;
 *   `LIMIT_EXCEEDED` when the runtime cannot make buffers for that many rows at once.
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
  const rows = locateRows(model, tensor, options.firstRow, options.rowCount);
  const count = rows.rowCount * rows.rowLength;
  const { traits, source } = rows;
  const offset = rows.fileOffset + bytesFor(traits, rows.firstValue);
  const length = bytesFor(traits, count);
  let out: Float32Array;
  let src: Uint8Array;
  try {
    out = options.into ?? new Float32Array(count);
    if (out.length < count) {
      throw new TypeError(`into holds ${out.length} values, ${count} needed`);
    }
    src = source.view(offset, length) ?? await source.read(offset, length);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    // The runtime could not make a buffer that large: say which read, and what to ask instead.
    throw new GgufError(
      "LIMIT_EXCEEDED",
      `Cannot read ${formatInteger(rows.rowCount)} rows of ${
        formatInteger(rows.rowLength)
      } values of tensor "${rows.name}" at once (${formatInteger(count)} float32 values from ${
        formatInteger(length)
      } bytes): this runtime cannot hold them (${error.message}); read fewer rows at a time (rowCount)`,
      undefined,
      { cause: error },
    );
  }
  rows.dequantizer.kernel(src, out, count / traits.blockSize, rows.littleEndian);
  return out.length === count ? out : out.subarray(0, count);
}

/** Rows of a tensor located in its part, with the kernel that reads them. */
interface LocatedRows {
  /** The tensor's name. */
  name: string;
  source: ByteSource;
  fileOffset: number;
  littleEndian: boolean;
  traits: GgmlTypeTraits;
  dequantizer: Dequantizer;
  /** Values per row (`shape[0]`), a whole number of blocks. */
  rowLength: number;
  rowCount: number;
  /** The index of the first value read, counted from the tensor's first. */
  firstValue: number;
}

/** Finds a tensor and checks a row range of it and its kernel, before anything is read. */
function locateRows(
  model: GgufModel,
  tensor: string | TensorInfo,
  firstRow = 0,
  rowCount?: number,
): LocatedRows {
  const name = typeof tensor === "string" ? tensor : tensor.name;
  const index = model.tensors.findIndex((t) => t.name === name);
  if (index < 0) {
    throw new GgufError(
      "NOT_FOUND",
      `Cannot read tensor "${name}": the model has no tensor of that name (${
        formatInteger(model.tensors.length)
      } tensor${model.tensors.length === 1 ? "" : "s"})`,
    );
  }
  const info = model.tensors[index];
  const part = model.parts[model.tensorParts[index]];
  const rowLength = info.shape[0];
  // The other dimensions' product: a row may hold no values (a dimension of 0, as ggml allows).
  const rows = info.shape.reduce((product, size, d) => d === 0 ? product : product * size, 1);
  const count = rowCount ?? rows - firstRow;
  checkRowRange(name, firstRow, count, rows);
  const traits = requireGgmlType(info.type);
  const littleEndian = part.header.littleEndian;
  return {
    name,
    source: part.source,
    fileOffset: info.fileOffset,
    littleEndian,
    traits,
    dequantizer: rowDequantizer(name, traits, littleEndian, rowLength),
    rowLength,
    rowCount: count,
    firstValue: firstRow * rowLength,
  };
}

/** Which rows {@linkcode tensorValuePieces} reads, and how many values at a time. */
export interface TensorValuePiecesOptions {
  /** The first row (default 0). */
  firstRow?: number;
  /** How many rows (default: every row from `firstRow` on). */
  rowCount?: number;
  /**
   * The most values per piece, rounded down to whole blocks of the tensor's type (at least
   * one block).
   */
  pieceValues: number;
}

/**
 * Reads rows of a tensor as float32 a bounded piece at a time, for a caller that must not
 * hold them all (a row can be longer than memory allows): pieces of whole blocks, in order,
 * which together are what {@linkcode readTensorRows} returns. Memory is one piece's values
 * and its bytes (copied, even from a mapping, whose pages would otherwise stay resident),
 * reused: a piece is valid until the next is asked for. The tensor, the rows and the kernel
 * are checked at the call, before anything is read. A stream model is read forward, once.
 *
 * @param model An open model.
 * @param tensor The tensor's name, or its index entry.
 * @param options The rows and the piece size.
 * @returns The pieces, the last one shorter; none for rows of no values.
 * @throws {GgufError} As {@linkcode readTensorRows}, at the call.
 * @throws {TypeError} For rows outside the tensor or a piece size below 1.
 *
 * @example
 * ```ts
 * import { openGgufModel } from "gguf-stream/sources";
 * import { readTensorRows, tensorValuePieces } from "./read_tensor_rows.ts";
 * import assert from "node:assert/strict";
 * const model = await openGgufModel(new URL("../../samples/tiny-llama.gguf", import.meta.url));
 * const whole = await readTensorRows(model, "blk.0.attn_q.weight", { rowCount: 2 });
 * const seen: number[] = [];
 * const pieces = tensorValuePieces(model, "blk.0.attn_q.weight", {
 *   rowCount: 2,
 *   pieceValues: 300, // Q4_K blocks hold 256 values: 256 per piece
 * });
 * for await (const piece of pieces) {
 *   assert.ok(piece.length <= 256);
 *   seen.push(...piece);
 * }
 * assert.deepEqual(seen, [...whole]);
 * await model.close();
 * ```
 */
export function tensorValuePieces(
  model: GgufModel,
  tensor: string | TensorInfo,
  options: TensorValuePiecesOptions,
): AsyncGenerator<Float32Array> {
  const rows = locateRows(model, tensor, options.firstRow, options.rowCount);
  if (!(options.pieceValues >= 1)) {
    throw new TypeError(`pieceValues must be at least 1, not ${options.pieceValues}`);
  }
  const { traits } = rows;
  const count = rows.rowCount * rows.rowLength;
  const blocksPerPiece = Math.max(1, Math.floor(options.pieceValues / traits.blockSize));
  const pieceValues = Math.min(count, blocksPerPiece * traits.blockSize);
  return (async function* () {
    if (count === 0) return;
    const values = new Float32Array(pieceValues);
    const { source } = rows;
    // Copied into one reused buffer, as the conversion's chunk loop reads: through a mapping,
    // bulk reads would leave every page read resident in this process. Bytes in memory are
    // read as views.
    const bytes = source.kind === "bytes"
      ? undefined
      : new Uint8Array(bytesFor(traits, pieceValues));
    for (let done = 0; done < count; done += pieceValues) {
      const n = Math.min(pieceValues, count - done);
      const offset = rows.fileOffset + bytesFor(traits, rows.firstValue + done);
      const src = await source.read(offset, bytesFor(traits, n), bytes);
      rows.dequantizer.kernel(src, values, n / traits.blockSize, rows.littleEndian);
      yield n === pieceValues ? values : values.subarray(0, n);
    }
  })();
}
