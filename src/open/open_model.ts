/**
 * A model as one or more GGUF files: a single file, or llama.cpp's split layout
 * (`NAME-00001-of-00003.gguf` …, with `split.no`, `split.count`, `split.tensors.count`),
 * opened by naming its first part.
 *
 * @module
 */
import { formatInteger, GgufError } from "../model/errors.ts";
import { type GgufInput, readHeader, resolveSource } from "./read_gguf.ts";
import { openGgufStream } from "../output/stream.ts";
import type { ParseOptions } from "../parse/parse_header.ts";
import type { ByteSource } from "../model/byte_source.ts";
import { type OpenOptions, toPath } from "../source/open_source.ts";
import type { GgufFile, GgufMetadataEntry, TensorInfo } from "../model/gguf_file.ts";

/** One file of a model. */
export interface GgufPart {
  /** The file's path, when opened from one. */
  path: string | undefined;
  /** Its open source. */
  source: ByteSource;
  /** Its parsed header. */
  header: GgufFile;
}

/** A model: its metadata and every tensor, each with the part that holds its data. */
export interface GgufModel {
  /** The parts in order (one for an unsplit file). */
  parts: GgufPart[];
  /** The model's metadata: the first part's, without the `split.*` keys of a split model. */
  metadata: Map<string, GgufMetadataEntry>;
  /** Every tensor in order, across parts. */
  tensors: TensorInfo[];
  /** For each tensor, the index of its part in `parts`. */
  tensorParts: number[];
  /** Closes the parts this model opened. */
  close(): Promise<void>;
}

/** Options for {@linkcode openGgufModel}. */
export interface OpenModelOptions extends ParseOptions, OpenOptions {}

const SPLIT_NAME = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/;

function splitNumber(header: GgufFile, key: string): number | undefined {
  const value = header.metadata.get(key)?.value;
  if (value === undefined) return undefined;
  if (typeof value !== "number" && typeof value !== "bigint") {
    throw new GgufError(
      "BAD_METADATA",
      `Cannot read ${key}: expected an integer, found ${typeof value}`,
    );
  }
  return Number(value);
}

/**
 * Opens a model for conversion: one GGUF file, or every part of a split model when
 * `input` is the path of its first part. Parts are found by their names, so one part
 * given as bytes or a {@linkcode ByteSource} is read as the single file it is. A
 * `ReadableStream` is read once, forward only (`NOT_SEQUENTIAL` if its tensor data is not
 * in index order).
 *
 * @param input A path, `file:` URL, {@linkcode ByteSource}, bytes or a stream.
 * @param options Parse and access options.
 * @returns The model; call `close()` when done.
 * @throws {GgufError} `BAD_METADATA` for missing, mismatched or out-of-order parts.
 *
 * @example
 * ```ts
 * import { openGgufModel } from "../../mod.ts";
 * import assert from "node:assert/strict";
 * const model = await openGgufModel(new URL("../../samples/tiny-llama.gguf", import.meta.url));
 * assert.equal(model.parts.length, 1);
 * assert.equal(model.tensors.length, 21);
 * await model.close();
 * ```
 */
export async function openGgufModel(
  input: GgufInput,
  options: OpenModelOptions = {},
): Promise<GgufModel> {
  if (input instanceof ReadableStream) return await openGgufStream(input, options);
  const opened: GgufPart[] = [];
  const owned: ByteSource[] = [];
  const close = async () => {
    for (const source of owned.splice(0)) await source.close();
  };
  try {
    const path = typeof input === "string" || input instanceof URL ? toPath(input) : undefined;
    const first = await resolveSource(input, options);
    if (first.owned) owned.push(first.source);
    opened.push({ path, source: first.source, header: await readHeader(first.source, options) });
    const header = opened[0].header;
    // Parts are found by their names: bytes or a source convert as the one file they are.
    const count = path === undefined ? undefined : splitNumber(header, "split.count");
    if (count !== undefined && count > 1) {
      const match = path!.match(SPLIT_NAME);
      if (match === null) {
        throw new GgufError(
          "BAD_METADATA",
          `Cannot open a split model from ${path}: split.count is ${count}, but parts are found by their names (NAME-00001-of-0000N.gguf)`,
        );
      }
      const number = splitNumber(header, "split.no") ?? 0;
      if (number !== 0 || Number(match[2]) !== 1) {
        throw new GgufError(
          "BAD_METADATA",
          `Cannot open ${path}: it is part ${number + 1} of a split model; name the first part (${
            match[1]
          }-00001-of-${match[3]}.gguf)`,
        );
      }
      for (let no = 1; no < count; no++) {
        const partPath = `${match[1]}-${String(no + 1).padStart(5, "0")}-of-${match[3]}.gguf`;
        const opening = await resolveSource(partPath, options);
        owned.push(opening.source);
        const part = {
          path: partPath,
          source: opening.source,
          header: await readHeader(opening.source, options),
        };
        const partNo = splitNumber(part.header, "split.no");
        const partCount = splitNumber(part.header, "split.count");
        if (partNo !== no || partCount !== count) {
          throw new GgufError(
            "BAD_METADATA",
            `Cannot use ${partPath} as part ${
              no + 1
            } of ${count}: it says split.no ${partNo} of split.count ${partCount}`,
          );
        }
        opened.push(part);
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
    const declared = splitNumber(header, "split.tensors.count");
    if (count !== undefined && count > 1 && declared !== undefined && declared !== tensors.length) {
      throw new GgufError(
        "BAD_METADATA",
        `Cannot join the parts: split.tensors.count is ${
          formatInteger(declared)
        }, but the ${count} parts hold ${formatInteger(tensors.length)} tensors`,
      );
    }
    const metadata = new Map(header.metadata);
    if (count !== undefined) {
      for (const key of [...metadata.keys()]) if (key.startsWith("split.")) metadata.delete(key);
    }
    return { parts: opened, metadata, tensors, tensorParts, close };
  } catch (error) {
    await close();
    throw error;
  }
}
