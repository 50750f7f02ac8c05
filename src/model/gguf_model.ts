/// <reference lib="esnext.disposable" preserve="true" />
/**
 * A model as one or more parsed GGUF files, each with the byte source that reads it.
 *
 * @module
 */
import type { ByteSource } from "./byte_source.ts";
import type { GgufFile, GgufMetadataEntry, TensorInfo } from "./gguf_file.ts";

/** One file of a model. */
export interface GgufPart {
  /** The file's path, when opened from one. */
  path: string | undefined;
  /** The file's URL, when opened from an `http:`/`https:` URL. */
  url?: string;
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
  /**
   * Closes the parts this model opened (safe to call twice). Views of a Deno mapping stay
   * valid until they are garbage-collected; views of a Bun mapping likewise. A model that
   * is dropped without `close()` is closed when it is garbage-collected.
   */
  close(): Promise<void>;
  /** `await using model = await openGgufModel(…)` closes it at the end of the block. */
  [Symbol.asyncDispose](): Promise<void>;
}
