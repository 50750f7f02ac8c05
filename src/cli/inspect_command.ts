/**
 * The inspection modes of the command line — `--key KEY` and `--dump TENSOR` — as one
 * request checked before the model is opened, and run on the opened model.
 *
 * @module
 */
import type { GgufModel } from "../model/gguf_model.ts";
import { dumpTensor, parseRowRange, type RowRange } from "./dump_tensor.ts";
import { selectMetadata } from "./inspect.ts";
import { toJsonText } from "./json_text.ts";

/** What `--key` or `--dump` asks for. */
export type InspectRequest =
  | { mode: "key"; keys: string[] }
  | { mode: "dump"; tensor: string; rows: RowRange | undefined; json: boolean };

/** The flags that matter here, as `parseArgs` gives them. */
export interface InspectFlags {
  key?: string[];
  dump?: string;
  rows?: string;
  json?: boolean;
  plan?: boolean;
  output?: string;
}

/**
 * Checks the inspection flags and makes them a request; `undefined` when neither `--key`
 * nor `--dump` (nor `--rows`) is given.
 *
 * @param flags The parsed flags.
 * @returns The request, or `undefined`.
 * @throws {TypeError} For a bad combination (`--key` with `--dump`, `-o` or `--plan`;
 *   `--rows` without `--dump`) or a malformed `--rows`.
 *
 * @example
 * ```ts
 * import { inspectRequest } from "./inspect_command.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(inspectRequest({ key: ["general.name"] }), { mode: "key", keys: ["general.name"] });
 * assert.throws(() => inspectRequest({ key: ["a"], dump: "t" }), TypeError);
 * assert.equal(inspectRequest({}), undefined);
 * ```
 */
export function inspectRequest(flags: InspectFlags): InspectRequest | undefined {
  const keys = flags.key ?? [];
  if (keys.length === 0 && flags.dump === undefined) {
    if (flags.rows !== undefined) throw new TypeError("--rows goes with --dump TENSOR");
    return undefined;
  }
  if (keys.length > 0 && flags.dump !== undefined) {
    throw new TypeError("give --key or --dump, not both");
  }
  const flag = keys.length > 0 ? "--key" : "--dump";
  if (flags.output !== undefined) throw new TypeError(`${flag} prints and writes nothing: drop -o`);
  if (flags.plan) throw new TypeError(`${flag} prints only what it is asked for: drop --plan`);
  if (keys.length > 0) {
    if (flags.rows !== undefined) throw new TypeError("--rows goes with --dump TENSOR");
    return { mode: "key", keys };
  }
  return {
    mode: "dump",
    tensor: flags.dump!,
    rows: flags.rows === undefined ? undefined : parseRowRange(flags.rows),
    json: flags.json === true,
  };
}

/**
 * Runs an inspection request on an open model.
 *
 * @param model The model.
 * @param request From {@linkcode inspectRequest}.
 * @returns The text to print, in pieces: `--key` one JSON object `{key: value, …}`;
 *   `--dump` the rows, a piece at a time however long they are.
 * @throws {GgufError} `NOT_FOUND` for a missing key, tensor or row, before any text.
 *
 * @example
 * ```ts
 * import { inspectModel } from "./inspect_command.ts";
 * import { openGgufModel } from "gguf-stream/sources";
 * import assert from "node:assert/strict";
 * const model = await openGgufModel(new URL("../../samples/tiny-llama.gguf", import.meta.url));
 * let text = "";
 * for await (const piece of inspectModel(model, { mode: "key", keys: ["general.architecture"] })) {
 *   text += piece;
 * }
 * assert.deepEqual(JSON.parse(text), { "general.architecture": "llama" });
 * await model.close();
 * ```
 */
export async function* inspectModel(
  model: GgufModel,
  request: InspectRequest,
): AsyncGenerator<string> {
  if (request.mode === "key") {
    yield toJsonText(selectMetadata(model.metadata, request.keys)) + "\n";
    return;
  }
  yield* dumpTensor(model, request.tensor, { rows: request.rows, json: request.json });
}
