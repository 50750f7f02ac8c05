/**
 * Copying a converted tensor out of the memory it shares.
 *
 * @module
 */
import type { ConvertedTensor } from "../model/conversion.ts";

/**
 * Returns the tensor with its data copied into a buffer of its own (exactly its bytes).
 * A zero-copy tensor's `data.buffer` is the whole mapping or the caller's whole input:
 * posting it to a worker or `structuredClone` would copy all of that, and the view lives
 * only as long as the mapping. Tensors that already own their buffer are returned as
 * they are.
 *
 * @param tensor A tensor from a conversion.
 * @returns The same tensor, owning its data (`zeroCopy: false`).
 *
 * @example Posting one tensor of a mapped model without the whole file
 * ```ts
 * import { convertGguf, detachTensor } from "gguf-stream";
 * import assert from "node:assert/strict";
 * const model = await convertGguf(new URL("../../samples/tiny-llama.gguf", import.meta.url));
 * const embeddings = model.tensors.get("token_embd.weight")!;
 * const own = detachTensor(embeddings);
 * assert.equal(own.data.buffer.byteLength, own.data.byteLength);
 * assert.deepEqual(own.data, embeddings.data);
 * ```
 */
export function detachTensor<T extends ConvertedTensor>(tensor: T): T {
  const data = tensor.data;
  if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && !tensor.zeroCopy) {
    return tensor;
  }
  return { ...tensor, data: data.slice(), zeroCopy: false };
}
