/**
 * `--dump TENSOR [--rows A:B] [--json]`: a tensor's values, dequantized on the fly and
 * printed bit-exact (each float32 as the shortest decimal that reads back as it).
 *
 * @module
 */
import { formatInteger, GgufError } from "../model/errors.ts";
import type { GgufModel } from "../model/gguf_model.ts";
import { tensorValuePieces } from "../convert/read_tensor_rows.ts";
import { float32Text } from "./float32_text.ts";
import { jsonString } from "./json_text.ts";
import { escapeText } from "../model/escape_text.ts";
import { similarNames } from "../model/similar_names.ts";

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
 * Values read from the model at a time: 4 MiB of float32, and at most as much of the file
 * (one range request over HTTP). A dump of any length takes memory for this many values.
 */
export const DUMP_PIECE_VALUES = 2 ** 20;

/**
 * Values formatted per piece of text handed on (tens of kilobytes of text): few enough
 * that the piece's strings die young. Many more survive into the collector's old
 * generation, which runtimes let grow by hundreds of megabytes before they sweep it.
 */
const TEXT_PIECE_VALUES = 2 ** 13;

/** What {@linkcode dumpTensor} prints. */
export interface DumpOptions {
  /** The rows (default the first {@linkcode DEFAULT_DUMP_ROWS}). */
  rows?: RowRange;
  /** One JSON document instead of text. */
  json?: boolean;
  /** Values read at a time (default {@linkcode DUMP_PIECE_VALUES}); the text is the same. */
  pieceValues?: number;
}

/**
 * Dumps rows of a tensor as text (a line per 8 values, each row headed by its number,
 * every value padded to the widest) or as one JSON document
 * `{name, type, shape, rows: [start, end], values: [[…], …]}`, a piece of text at a time:
 * a row of any length prints in bounded memory. The text pads to the widest value of the
 * whole dump, so a dump longer than one piece is read twice (once for the width); a model
 * read from a stream is read once, so there such a dump is refused (`--json` is not).
 * Everything is checked before the first piece, so a refused dump prints nothing.
 *
 * @param model An open model.
 * @param name The tensor's name.
 * @param options The rows, the format, the piece size.
 * @returns The text to print, in pieces of tens of kilobytes.
 * @throws {GgufError} `NOT_FOUND` for a missing tensor or rows past its end;
 *   `UNSUPPORTED_TYPE` for a type with no kernel; `LIMIT_EXCEEDED` for a text dump of
 *   more than one piece of a model read from a stream.
 *
 * @example
 * ```ts
 * import { dumpTensor } from "./dump_tensor.ts";
 * import { openGgufModel } from "gguf-stream/sources";
 * import assert from "node:assert/strict";
 * const model = await openGgufModel(new URL("../../samples/tiny-llama.gguf", import.meta.url));
 * let text = "";
 * for await (const piece of dumpTensor(model, "blk.0.attn_norm.weight", { json: true })) {
 *   text += piece;
 * }
 * const json = JSON.parse(text);
 * assert.deepEqual(json.rows, [0, 1]);
 * assert.equal(json.values[0].length, 256);
 * await model.close();
 * ```
 */
export async function* dumpTensor(
  model: GgufModel,
  name: string,
  options: DumpOptions = {},
): AsyncGenerator<string> {
  const index = model.tensors.findIndex((t) => t.name === name);
  if (index < 0) {
    const similar = similarNames(name, model.tensors.map((t) => t.name));
    throw new GgufError(
      "NOT_FOUND",
      `No tensor "${name}" in the model (${formatInteger(model.tensors.length)} tensor${
        model.tensors.length === 1 ? "" : "s"
      }${similar.length > 0 ? `; did you mean ${similar.map((t) => `"${t}"`).join(", ")}?` : ""})`,
    );
  }
  const info = model.tensors[index];
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
  const pieceValues = options.pieceValues ?? DUMP_PIECE_VALUES;
  const read = () =>
    tensorValuePieces(model, info, { firstRow: start, rowCount: end - start, pieceValues });
  const pieces = read(); // checks the type's kernel before anything is printed
  const layout = { start, end, rowLength };
  if (options.json) {
    const head = `{"name": ${jsonString(info.name)}, "type": ${
      JSON.stringify(info.typeName)
    }, "shape": ${JSON.stringify(info.shape)}, "rows": [${start}, ${end}], "values": [\n`;
    yield* formatValues(pieces, layout, new JsonRows(head));
    return;
  }
  const count = (end - start) * rowLength;
  const onePiece = count <= pieceValues;
  if (!onePiece && model.parts[model.tensorParts[index]].source.kind === "stream") {
    throw new GgufError(
      "LIMIT_EXCEEDED",
      `Cannot dump ${
        formatInteger(count)
      } values of "${name}" as text from a stream: the text's columns need the values read twice, and a stream is read once; dump at most ${
        formatInteger(pieceValues)
      } values (fewer --rows), add --json, or read the model from a file`,
    );
  }
  // The widest value first: from the values in memory when one piece holds them all, else
  // by reading them all once more.
  let width = 1;
  let kept: Float32Array[] = [];
  for await (const piece of pieces) {
    for (let i = 0; i < piece.length; i++) width = Math.max(width, float32Text(piece[i]).length);
    if (onePiece) kept = [piece];
  }
  const header = `${escapeText(info.name)}: ${info.typeName}, shape ${
    info.shape.join(" x ")
  }, rows ${start}:${end} of ${formatInteger(rows)} (${
    formatInteger(rowLength)
  } values each), as float32\n`;
  yield* formatValues(onePiece ? kept : read(), layout, new TextRows(header, width, rowLength));
}

/** Which rows are dumped, and their length. */
interface Layout {
  start: number;
  end: number;
  rowLength: number;
}

/** How a dump's rows are written: a row's start and end, one value, and the closing text. */
interface RowFormat {
  /** The text so far, taken by {@linkcode formatValues} when it hands a piece on. */
  text: string[];
  beginRow(row: number, first: boolean): void;
  value(value: number, column: number): void;
  endRow(): void;
  end(): void;
}

/**
 * Formats the values of rows `start` to `end` as they come, a piece at a time, handing on
 * the text every {@linkcode TEXT_PIECE_VALUES} values: memory for one piece of text.
 */
async function* formatValues(
  pieces: AsyncIterable<Float32Array> | Iterable<Float32Array>,
  { start, end, rowLength }: Layout,
  format: RowFormat,
): AsyncGenerator<string> {
  let row = start;
  let column = 0;
  let formatted = 0;
  const take = () => {
    const text = format.text.join("");
    format.text = [];
    formatted = 0;
    return text;
  };
  if (rowLength === 0) {
    // Rows of no values: no pieces to read, only the rows' headings.
    for (; row < end; row++) {
      format.beginRow(row, row === start);
      format.endRow();
      if (++formatted >= TEXT_PIECE_VALUES) yield take();
    }
  }
  for await (const piece of pieces) {
    for (let i = 0; i < piece.length; i++) {
      if (column === 0) format.beginRow(row, row === start);
      format.value(piece[i], column);
      if (++column === rowLength) {
        format.endRow();
        column = 0;
        row++;
      }
      if (++formatted >= TEXT_PIECE_VALUES) yield take();
    }
  }
  format.end();
  const rest = take();
  if (rest !== "") yield rest;
}

/** The JSON dump: the head, then a line per row `  [v, v, …]`, then `]}`. */
class JsonRows implements RowFormat {
  text: string[];
  constructor(head: string) {
    this.text = [head];
  }
  beginRow(_row: number, first: boolean): void {
    this.text.push(first ? "  [" : ",\n  [");
  }
  value(value: number, column: number): void {
    this.text.push(column === 0 ? jsonNumber(value) : ", " + jsonNumber(value));
  }
  endRow(): void {
    this.text.push("]");
  }
  end(): void {
    this.text.push("\n]}\n");
  }
}

/**
 * The text dump: the header, then per row `row N:` and lines of 8 values, each line led by
 * its first value's column and every value padded to `width`.
 */
class TextRows implements RowFormat {
  text: string[];
  #width: number;
  #indexWidth: number;
  #rowLength: number;
  #cells: string[] = [];
  #lineStart = 0;
  constructor(header: string, width: number, rowLength: number) {
    this.text = [header];
    this.#width = width;
    this.#indexWidth = String(rowLength - 1).length;
    this.#rowLength = rowLength;
  }
  beginRow(row: number): void {
    this.text.push(`row ${row}:\n`);
  }
  value(value: number, column: number): void {
    if (this.#cells.length === 0) this.#lineStart = column;
    this.#cells.push(float32Text(value).padStart(this.#width));
    if (this.#cells.length === VALUES_PER_LINE || column === this.#rowLength - 1) {
      this.text.push(
        `  ${String(this.#lineStart).padStart(this.#indexWidth)}  ${this.#cells.join("  ")}\n`,
      );
      this.#cells = [];
    }
  }
  endRow(): void {}
  end(): void {}
}
