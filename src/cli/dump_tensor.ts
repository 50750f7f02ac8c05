/**
 * `--dump TENSOR [--rows A:B] [--json]`: a tensor's values, dequantized on the fly and
 * printed bit-exact (each float32 as the shortest decimal that reads back as it).
 *
 * @module
 */
import { formatInteger, GgufError } from "../model/errors.ts";
import type { GgufModel } from "../model/gguf_model.ts";
import { readTensorRows } from "../convert/read_tensor_rows.ts";
import { float32Text } from "./float32_text.ts";
import { jsonString } from "./json_text.ts";
import { escapeText } from "../model/escape_text.ts";
import { similarNames } from "./suggest_flag.ts";

/** Rows dumped when `--rows` is not given. */
export const DEFAULT_DUMP_ROWS = 4;

/** Values per line of the text dump. */
const VALUES_PER_LINE = 8;

/** A `--rows` range: `start` to `end` (exclusive; `undefined` = to the last row). */
export interface RowRange {
  start: number;
  end: number | undefined;
}

/**
 * Parses a `--rows` value: `A:B` (rows A to B-1, as a Python slice), `A:` (from A to the
 * end), `:B` (the first B rows) or `A` (row A alone).
 *
 * @param spec The flag's value.
 * @returns The range.
 * @throws {TypeError} For anything else.
 *
 * @example
 * ```ts
 * import { parseRowRange } from "./dump_tensor.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseRowRange("2:5"), { start: 2, end: 5 });
 * assert.deepEqual(parseRowRange("7"), { start: 7, end: 8 });
 * assert.deepEqual(parseRowRange("3:"), { start: 3, end: undefined });
 * assert.throws(() => parseRowRange("5:2"), TypeError);
 * ```
 */
export function parseRowRange(spec: string): RowRange {
  const match = spec.trim().match(/^(\d*)(:?)(\d*)$/);
  if (match === null || (match[1] === "" && match[3] === "")) {
    throw new TypeError(`--rows must be A:B, A:, :B or A (row numbers from 0), not "${spec}"`);
  }
  const start = match[1] === "" ? 0 : Number(match[1]);
  const end = match[2] === "" ? start + 1 : match[3] === "" ? undefined : Number(match[3]);
  if (!Number.isSafeInteger(start) || (end !== undefined && !Number.isSafeInteger(end))) {
    throw new TypeError(`--rows "${spec}": row numbers are too large`);
  }
  if (end !== undefined && end <= start) {
    throw new TypeError(`--rows "${spec}" selects no rows (the end is not after the start)`);
  }
  return { start, end };
}

/** A float32 as JSON: its shortest decimal, or `null` for NaN and infinities. */
function jsonNumber(value: number): string {
  return Number.isFinite(value) ? float32Text(value) : "null";
}

/**
 * Dumps rows of a tensor as text (a line per 8 values, each row headed by its number) or
 * as one JSON document `{name, type, shape, rows: [start, end], values: [[…], …]}`.
 *
 * @param model An open model.
 * @param name The tensor's name.
 * @param options The rows (default the first {@linkcode DEFAULT_DUMP_ROWS}) and the format.
 * @returns The text to print.
 * @throws {GgufError} `NOT_FOUND` for a missing tensor or rows past its end;
 *   `UNSUPPORTED_TYPE` for a type with no kernel.
 *
 * @example
 * ```ts
 * import { dumpTensor } from "./dump_tensor.ts";
 * import { openGgufModel } from "gguf-stream/sources";
 * import assert from "node:assert/strict";
 * const model = await openGgufModel(new URL("../../samples/tiny-llama.gguf", import.meta.url));
 * const json = JSON.parse(await dumpTensor(model, "blk.0.attn_norm.weight", { json: true }));
 * assert.deepEqual(json.rows, [0, 1]);
 * assert.equal(json.values[0].length, 256);
 * await model.close();
 * ```
 */
export async function dumpTensor(
  model: GgufModel,
  name: string,
  options: { rows?: RowRange; json?: boolean } = {},
): Promise<string> {
  const info = model.tensors.find((t) => t.name === name);
  if (info === undefined) {
    const similar = similarNames(name, model.tensors.map((t) => t.name));
    throw new GgufError(
      "NOT_FOUND",
      `No tensor "${name}" in the model (${formatInteger(model.tensors.length)} tensors${
        similar.length > 0 ? `; did you mean ${similar.map((t) => `"${t}"`).join(", ")}?` : ""
      })`,
    );
  }
  const rowLength = info.shape[0];
  const rows = info.shape.reduce((product, size, d) => d === 0 ? product : product * size, 1);
  const start = options.rows?.start ?? 0;
  const end = Math.min(rows, options.rows?.end ?? (options.rows ? rows : DEFAULT_DUMP_ROWS));
  if (start >= rows) {
    throw new GgufError(
      "NOT_FOUND",
      `Tensor "${name}" has ${
        rows === 0 ? "no rows" : `${formatInteger(rows)} rows (0 to ${formatInteger(rows - 1)})`
      }; row ${formatInteger(start)} is not in it`,
    );
  }
  const values = await readTensorRows(model, info, { firstRow: start, rowCount: end - start });
  if (options.json) {
    const lines = [];
    for (let r = 0; r < end - start; r++) {
      const row = values.subarray(r * rowLength, (r + 1) * rowLength);
      lines.push("  [" + Array.from(row, jsonNumber).join(", ") + "]");
    }
    return `{"name": ${jsonString(info.name)}, "type": ${JSON.stringify(info.typeName)}, "shape": ${
      JSON.stringify(info.shape)
    }, "rows": [${start}, ${end}], "values": [\n${lines.join(",\n")}\n]}\n`;
  }
  const texts = Array.from(values, float32Text);
  const width = texts.reduce((max, text) => Math.max(max, text.length), 1);
  const indexWidth = String(rowLength - 1).length;
  const out = [
    `${escapeText(info.name)}: ${info.typeName}, shape ${
      info.shape.join(" x ")
    }, rows ${start}:${end} of ${formatInteger(rows)} (${
      formatInteger(rowLength)
    } values each), as float32`,
  ];
  for (let r = 0; r < end - start; r++) {
    out.push(`row ${start + r}:`);
    for (let i = 0; i < rowLength; i += VALUES_PER_LINE) {
      const cells = texts.slice(r * rowLength + i, r * rowLength + Math.min(rowLength, i + 8));
      out.push(
        `  ${String(i).padStart(indexWidth)}  ${cells.map((t) => t.padStart(width)).join("  ")}`,
      );
    }
  }
  return out.join("\n") + "\n";
}
