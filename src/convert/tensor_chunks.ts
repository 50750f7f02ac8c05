/**
 * Reading a tensor's blocks a bounded run at a time: the one loop behind in-memory
 * dequantization and file output.
 *
 * @module
 */
import type { GgmlTypeTraits } from "../model/ggml_type.ts";
import type { ByteSource } from "../model/byte_source.ts";
import type { TensorInfo } from "../model/gguf_file.ts";

/** One run of whole blocks: its bytes, the index of its first block, and its block count. */
export interface BlockChunk {
  src: Uint8Array;
  firstBlock: number;
  blocks: number;
}

/**
 * Reads `tensor`'s data `blocksPerChunk` whole blocks at a time into `buffer` (which must
 * hold that many), yielding each run; a run is valid until the next is requested.
 */
export async function* readBlockChunks(
  source: ByteSource,
  tensor: TensorInfo,
  traits: GgmlTypeTraits,
  blocksPerChunk: number,
  buffer: () => Uint8Array,
): AsyncGenerator<BlockChunk, void, undefined> {
  const totalBlocks = tensor.elements / traits.blockSize;
  for (let firstBlock = 0; firstBlock < totalBlocks; firstBlock += blocksPerChunk) {
    const blocks = Math.min(blocksPerChunk, totalBlocks - firstBlock);
    const src = await source.read(
      tensor.fileOffset + firstBlock * traits.bytesPerBlock,
      blocks * traits.bytesPerBlock,
      buffer(),
    );
    yield { src, firstBlock, blocks };
  }
}
