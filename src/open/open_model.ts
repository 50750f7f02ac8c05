/**
 * A model as one or more GGUF files: a single file, or llama.cpp's split layout
 * (`NAME-00001-of-00003.gguf` …, with `split.no`, `split.count`, `split.tensors.count`),
 * opened by naming its first part — a path or an HTTP(S) URL, the other parts' names
 * derived from it.
 *
 * @module
 */
import type { ByteSource } from "../model/byte_source.ts";
import { abortedError, formatInteger, GgufError } from "../model/errors.ts";
import type { GgufFile, TensorInfo } from "../model/gguf_file.ts";
import type { GgufModel, GgufPart } from "../model/gguf_model.ts";
import { describeUrl } from "../source/http_range.ts";
import { readSplitKeys } from "./split_keys.ts";
import { escapeText } from "../model/escape_text.ts";
import type { OptionKeys } from "../model/option_keys.ts";
import { streamEndedError } from "../source/stream_buffer.ts";
import type { StreamSource } from "../source/stream_source.ts";
import {
  type GgufInput,
  isStreamSource,
  READ_OPTION_KEYS,
  type ReadOptions,
  readSourceHeader,
  remoteUrl,
  resolveInput,
} from "./resolve_input.ts";

/** Options for {@linkcode openGgufModel}. */
export interface OpenModelOptions extends ReadOptions {
  /**
   * The other parts of a split model, in any order, for a first part that has no name to
   * find them by (a `Blob` such as a picked `File`, bytes, a `ByteSource`, a stream), or to
   * take them from elsewhere than beside it. Each is placed by its own `split.no`; all
   * `split.count - 1` must be there, each once (none for a whole model). Streams among them
   * are the model's, as a stream input is: cancelled if it cannot be opened.
   */
  parts?: readonly GgufInput[];
}

/** Every key of {@linkcode OpenModelOptions}, for option checks. */
export const OPEN_MODEL_OPTION_KEYS: OptionKeys<OpenModelOptions> = {
  ...READ_OPTION_KEYS,
  parts: true,
};

/** Closes the sources of models that were garbage-collected without `close()`. */
const UNCLOSED = new FinalizationRegistry<ByteSource[]>((sources) => {
  // Views of a mapping may outlive the model: they keep what they read.
  for (const source of sources) source.close({ keepViews: true }).catch(() => {});
});

const SPLIT_NAME = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/;

/** A part's name split by {@linkcode SPLIT_NAME}, for a path or a URL's path. */
function splitName(location: string | undefined): RegExpMatchArray | null | undefined {
  if (location === undefined) return undefined;
  const url = remoteUrl(location);
  return (url === undefined ? location : url.pathname).match(SPLIT_NAME);
}

/** The path or URL of part `no` (0-based) of the split model whose first part is `first`. */
function partLocation(first: string, match: RegExpMatchArray, no: number): string {
  const name = `${match[1]}-${String(no + 1).padStart(5, "0")}-of-${match[3]}.gguf`;
  const url = remoteUrl(first);
  if (url === undefined) return name;
  const part = new URL(url); // the query (a signed link, a revision) is kept
  part.pathname = name;
  return part.href;
}

/** A path or URL as messages show it (a URL without its query, which may hold a token). */
function shown(location: string | undefined): string {
  const url = remoteUrl(location);
  return url === undefined ? String(location) : describeUrl(url);
}

/** What the input is, for messages: its path or URL, or the kind of object it is. */
function describeInput(input: GgufInput, location: string | undefined): string {
  if (location !== undefined) return shown(location);
  if (input instanceof ReadableStream) return "a stream";
  if (input instanceof Uint8Array) return "a Uint8Array";
  if (input instanceof Blob) return "a Blob";
  return "a ByteSource";
}

/**
 * Opens a model for conversion: one GGUF file, or every part of a split model when
 * `input` is the path or URL of its first part. Parts are found by their names, so one
 * part of a split model (`split.count` above 1) given as bytes, a `Blob`, a
 * {@linkcode ByteSource} or a stream needs the others as `options.parts`, and is refused
 * without them: converting it alone would lose the others ({@linkcode readGguf} still
 * reads its header). The split keys are checked as
 * llama.cpp writes them (`split.no` below `split.count`, `split.tensors.count` the number
 * of tensors) and left out of the model's metadata. A `ReadableStream` is read once,
 * forward only (`NOT_SEQUENTIAL` if its tensor data is not in index order); an HTTP(S)
 * URL opened with `remote: "stream"` whose data is not in index order is reopened by
 * ranges instead.
 *
 * @param input A path, `file:` or `http(s):` URL, `ByteSource`, bytes, a `Blob` or a stream.
 * @param options Parse and access options; `parts`, the other parts of a split model.
 * @returns The model; call `close()` when done.
 * @throws {GgufError} `BAD_METADATA` for missing, mismatched or out-of-order parts, split
 *   keys that contradict each other, or one part of a split model given without its name;
 *   `ABORTED`, with the signal's reason as its `cause`, when the signal fires.
 *
 * @example Opening a model
 * ```ts
 * import { openGgufModel } from "gguf-stream/sources";
 * import assert from "node:assert/strict";
 * const model = await openGgufModel(new URL("../../samples/tiny-llama.gguf", import.meta.url));
 * assert.equal(model.parts.length, 1);
 * assert.equal(model.tensors.length, 21);
 * await model.close();
 * ```
 *
 * @example One part of a split model, without its name
 * ```ts
 * import { GgufError, readGguf } from "gguf-stream";
 * import { encodeGgufHeader } from "gguf-stream/pipeline";
 * import { openGgufModel } from "gguf-stream/sources";
 * import assert from "node:assert/strict";
 * const header = encodeGgufHeader({
 *   alignment: 32,
 *   metadata: [
 *     { key: "split.no", type: 2, value: 0 }, // UINT16
 *     { key: "split.count", type: 2, value: 3 }, // UINT16
 *     { key: "split.tensors.count", type: 5, value: 0 }, // INT32
 *   ],
 *   tensors: [],
 * });
 * const part = new Uint8Array(header.fileSize);
 * part.set(header.bytes);
 * assert.equal((await readGguf(part)).metadata.get("split.count")?.value, 3);
 * await assert.rejects(
 *   openGgufModel(part),
 *   (e: unknown) => e instanceof GgufError && e.code === "BAD_METADATA",
 * );
 * ```
 */
export function openGgufModel(
  input: GgufInput,
  options: OpenModelOptions = {},
): Promise<GgufModel> {
  return openModel(input, options);
}

/** How {@linkcode openModel} opens its input. */
export interface OpenModelMode extends OpenModelOptions {
  /**
   * Read the input as the one file it is, its split keys neither checked nor removed
   * (`readGgufStream()` hands out one file's header and tensors, as `readGguf()` reads one
   * file's header).
   */
  oneFile?: boolean;
}

/**
 * {@linkcode openGgufModel}, or with `oneFile` the one file its input is.
 *
 * @param input As for {@linkcode openGgufModel}.
 * @param options As for {@linkcode openGgufModel}, and `oneFile`.
 * @returns The model; call `close()` when done.
 * @throws {GgufError} As {@linkcode openGgufModel}; with `oneFile`, only for the file's own
 *   defects.
 *
 * @example Reading one part of a split model as the file it is
 * ```ts
 * import { openModel } from "./open_model.ts";
 * import { encodeGgufHeader } from "../format/encode_header.ts";
 * import assert from "node:assert/strict";
 * const header = encodeGgufHeader({
 *   alignment: 32,
 *   metadata: [{ key: "split.no", type: 2, value: 1 }, { key: "split.count", type: 2, value: 3 }],
 *   tensors: [],
 * });
 * const part = new Uint8Array(header.fileSize);
 * part.set(header.bytes);
 * const model = await openModel(part, { oneFile: true });
 * assert.equal(model.metadata.get("split.no")?.value, 1);
 * await model.close();
 * ```
 */
export async function openModel(
  input: GgufInput,
  options: OpenModelMode = {},
): Promise<GgufModel> {
  const oneFile = options.oneFile === true;
  const opened: GgufPart[] = [];
  const owned: ByteSource[] = [];
  const close = async () => {
    for (const source of owned.splice(0)) await source.close();
  };
  try {
    const first = await resolveInput(input, options);
    if (first.owned) owned.push(first.source);
    const path = first.path ?? first.url;
    const firstHeader = await readSourceHeader(first.source, options);
    if (isStreamSource(first.source)) checkSequential(firstHeader.tensors);
    opened.push({
      path: first.path,
      url: first.url,
      source: shortfallTold(first.source, firstHeader),
      header: firstHeader,
    });
    const header = opened[0].header;
    const lenient = options.lenient;
    const split = oneFile
      ? undefined
      : readSplitKeys(header, { lenient, name: describeInput(input, path) });
    const count = split?.count ?? 0;
    const named = splitName(path);
    if (!oneFile && named && Number(named[3]) > 1 && count <= 1) {
      // The name promises parts that the file does not describe: converting only this
      // one would silently lose the others.
      throw new GgufError(
        "BAD_METADATA",
        `Cannot open ${shown(path)}: its name says ${
          Number(named[3])
        } parts, but its split.count is ${
          header.metadata.has("split.count") ? count : "missing"
        }; rename it if it is a whole model, or fix its metadata`,
      );
    }
    const keys = [split];
    // No other parts is what a whole model has: parts: [] opens it as without them.
    const given = options.parts?.length === 0 ? undefined : options.parts;
    if (given !== undefined && !Array.isArray(given)) {
      throw new TypeError(`parts must be an array of the other parts' inputs, not ${typeof given}`);
    }
    if (given !== undefined && !oneFile) {
      if (split === undefined || count <= 1) {
        throw new GgufError(
          "BAD_METADATA",
          `Cannot join ${given.length} more parts to ${
            describeInput(input, path)
          }: it is not the first part of a split model (it has no split.count above 1)`,
        );
      }
      if (split.no !== 0) {
        throw new GgufError(
          "BAD_METADATA",
          `Cannot open ${describeInput(input, path)} with parts: it is part ${
            split.no + 1
          } of ${count}; give the first part as the input and the others as parts`,
        );
      }
      if (given.length !== count - 1) {
        throw new GgufError(
          "BAD_METADATA",
          `Cannot join the parts: the first part says split.count ${count}, so ${
            count - 1
          } more parts are needed, but ${given.length} ${
            given.length === 1 ? "was" : "were"
          } given`,
        );
      }
      const placed: (OpenedPart | undefined)[] = [];
      for (const [index, partInput] of given.entries()) {
        const label = givenPartLabel(partInput, index);
        const part = await openPart(partInput, label, count, options, owned);
        const no = part.keys?.no;
        if (part.keys?.count !== count || no === undefined || no === 0 || placed[no]) {
          throw new GgufError(
            "BAD_METADATA",
            `Cannot use ${label} as one of the ${count} parts: it says ${
              part.keys === undefined
                ? "nothing of split parts (no split.* keys)"
                : `split.no ${part.keys.no} of split.count ${part.keys.count}${
                  placed[part.keys.no] ? ", as another part given does" : ""
                }`
            }`,
          );
        }
        placed[no] = part;
      }
      for (let no = 1; no < count; no++) {
        opened.push(placed[no]!.part);
        keys.push(placed[no]!.keys);
      }
    } else if (split !== undefined && count > 1) {
      if (path === undefined) {
        // Only a name leads to the other parts: converting this one alone would
        // silently lose them.
        const kind = describeInput(input, path);
        throw new GgufError(
          "BAD_METADATA",
          `Cannot open part ${
            split.no + 1
          } of a ${count}-part split model from ${kind}: the other parts are found by file name, and ${kind} has none; give the first part's path or URL (NAME-00001-of-${
            String(count).padStart(5, "0")
          }.gguf) instead (in the library, or the other parts as the option parts), or join the parts first (llama-gguf-split --merge)`,
        );
      }
      const match = splitName(path);
      if (!match) {
        throw new GgufError(
          "BAD_METADATA",
          `Cannot open a split model from ${
            shown(path)
          }: split.count is ${count}, but the other parts are found by name, and this one is not named NAME-00001-of-${
            String(count).padStart(5, "0")
          }.gguf; give the parts (or their URLs) the names llama-gguf-split wrote`,
        );
      }
      if (split.no !== 0 || Number(match[2]) !== 1) {
        throw new GgufError(
          "BAD_METADATA",
          `Cannot open ${shown(path)}: it is part ${
            split.no + 1
          } of a split model; name the first part (${match[1]}-00001-of-${match[3]}.gguf)`,
        );
      }
      for (let no = 1; no < count; no++) {
        const partPath = partLocation(path, match, no);
        // Read its header now, its data when the conversion reaches it.
        const { part, keys: partKeys } = await openPart(
          partPath,
          shown(partPath),
          count,
          options,
          owned,
          no,
        );
        if (partKeys?.no !== no || partKeys.count !== count) {
          throw new GgufError(
            "BAD_METADATA",
            `Cannot use ${shown(partPath)} as part ${no + 1} of ${count}: it says ${
              partKeys === undefined
                ? "nothing of split parts (no split.* keys)"
                : `split.no ${partKeys.no} of split.count ${partKeys.count}`
            }`,
          );
        }
        opened.push(part);
        keys.push(partKeys);
      }
    }
    const tensors: TensorInfo[] = [];
    const tensorParts: number[] = [];
    const names = new Set<string>();
    opened.forEach((part, index) => {
      for (const tensor of part.header.tensors) {
        if (names.has(tensor.name)) {
          throw new GgufError(
            "DUPLICATE_TENSOR",
            `Cannot join the parts: tensor "${tensor.name}" appears in more than one part`,
          );
        }
        names.add(tensor.name);
        tensors.push(tensor);
        tensorParts.push(index);
      }
    });
    for (const [index, part] of keys.entries()) {
      const declared = part?.tensors;
      if (declared === undefined || declared === tensors.length) continue;
      throw new GgufError(
        "BAD_METADATA",
        count > 1
          ? `Cannot join the parts: part ${index + 1} says split.tensors.count ${
            formatInteger(declared)
          }, but the ${count} parts hold ${formatInteger(tensors.length)} tensors`
          : `Cannot open ${
            describeInput(input, path)
          }: its split.tensors.count says the model has ${
            formatInteger(declared)
          } tensors, but it holds ${
            formatInteger(tensors.length)
          }; if it is one part of a split model, open that model's first part by its path, or fix its metadata`,
      );
    }
    const metadata = new Map(header.metadata);
    if (split !== undefined) {
      // A whole model now (joined, or never split): its split keys say nothing true of it.
      for (const key of [...metadata.keys()]) if (key.startsWith("split.")) metadata.delete(key);
    }
    const model: GgufModel = {
      parts: opened,
      metadata,
      tensors,
      tensorParts,
      close: async () => {
        UNCLOSED.unregister(model);
        await close();
      },
      [Symbol.asyncDispose]: () => model.close(),
    };
    // A model dropped without close() still releases its files, quietly.
    if (owned.length > 0) UNCLOSED.register(model, owned, model);
    return model;
  } catch (error) {
    await close();
    if (
      error instanceof GgufError && error.code === "NOT_SEQUENTIAL" &&
      options.remote === "stream" && remoteUrl(input) !== undefined
    ) {
      // One pass cannot read this file's data out of order: read it by ranges instead.
      return await openModel(input, { ...options, remote: "range" });
    }
    // Streams given as parts are ours as the input is: those never reached (still
    // unlocked) are cancelled too, as the opened ones were by close().
    for (const part of Array.isArray(options.parts) ? options.parts : []) {
      if (part instanceof ReadableStream && !part.locked) await part.cancel(error).catch(() => {});
    }
    throw abortedError(error, options.signal);
  }
}

/** A part of a split model opened for {@linkcode openModel}, with its split keys. */
interface OpenedPart {
  part: GgufPart;
  keys: ReturnType<typeof readSplitKeys>;
}

/**
 * Opens one part other than the first: its header now, its data when the conversion
 * reaches it. `label` names it in messages; `no` (0-based), where known before its header
 * is read, too.
 */
async function openPart(
  input: GgufInput,
  label: string,
  count: number,
  options: OpenModelMode,
  owned: ByteSource[],
  no?: number,
): Promise<OpenedPart> {
  const opening = await resolveInput(input, { ...options, deferBody: true });
  if (opening.owned) owned.push(opening.source);
  let header: GgufFile;
  try {
    header = await readSourceHeader(opening.source, options);
  } catch (error) {
    // The user named the first part: say which of the others is at fault.
    if (error instanceof GgufError) {
      error.message = `In ${
        no === undefined ? "" : `part ${no + 1} of ${count}, `
      }${label}: ${error.message}`;
    }
    throw error;
  }
  if (isStreamSource(opening.source)) checkSequential(header.tensors);
  const part = {
    path: opening.path,
    url: opening.url,
    source: shortfallTold(opening.source, header),
    header,
  };
  return { part, keys: readSplitKeys(header, { lenient: options.lenient, name: label }) };
}

/** How messages name `parts[index]`: its path or URL, a `File`'s name, or its place. */
function givenPartLabel(input: GgufInput, index: number): string {
  if (typeof input === "string" || input instanceof URL) return shown(String(input));
  const name = input instanceof Blob ? (input as { name?: unknown }).name : undefined;
  return typeof name === "string" && name !== ""
    ? `"${escapeText(name)}" (parts[${index}])`
    : `parts[${index}]`;
}

/**
 * A stream part whose early end is told against all the data its header describes: the
 * stream itself knows only the read it was in (7_984 bytes short of a tensor, where the
 * file lacks 613_952). Any other source is returned as it is.
 */
function shortfallTold(source: ByteSource, header: GgufFile): ByteSource {
  if (!isStreamSource(source)) return source;
  const end = header.tensors.reduce(
    (last, t) => Math.max(last, t.fileOffset + t.nbytes),
    header.dataOffset,
  );
  const stream: StreamSource = {
    kind: "stream",
    get size() {
      return source.size;
    },
    view: (offset, length) => source.view(offset, length),
    prefix: (length) => source.prefix(length),
    async read(offset, length, into) {
      try {
        return await source.read(offset, length, into);
      } catch (error) {
        const at = error instanceof GgufError && error.code === "TRUNCATED"
          ? error.offset
          : undefined;
        if (at === undefined || at >= end) throw error;
        throw streamEndedError(at, end - at, "the data the header describes");
      }
    },
    close: (reason) => source.close(reason),
  };
  return stream;
}

/**
 * Refuses an index whose data is not in ascending offset order: a stream cannot be read
 * so in one pass.
 */
function checkSequential(tensors: TensorInfo[]): void {
  for (let i = 1; i < tensors.length; i++) {
    if (tensors[i].offset < tensors[i - 1].offset) {
      throw new GgufError(
        "NOT_SEQUENTIAL",
        `Cannot read the stream in one pass: tensor "${tensors[i].name}" (data at byte ${
          formatInteger(tensors[i].fileOffset)
        }) comes after "${
          tensors[i - 1].name
        }" in the index but before it in the file; convert from a file instead`,
        tensors[i].indexOffset,
      );
    }
  }
}
