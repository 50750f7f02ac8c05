/**
 * One table of every ggml tensor type: name, block size, bytes per block and, where
 * gguf-stream has one, the dequantization kernel. Looked up by type id.
 *
 * @module
 */
import { dequantizeRowBf16, dequantizeRowF16, dequantizeRowF32 } from "./dequant/float.ts";
import { dequantizeRowIq4Nl } from "./dequant/iq4_nl.ts";
import { dequantizeRowIq4Xs } from "./dequant/iq4_xs.ts";
import { dequantizeRowQ2K } from "./dequant/q2_k.ts";
import { dequantizeRowQ3K } from "./dequant/q3_k.ts";
import { dequantizeRowQ4_0 } from "./dequant/q4_0.ts";
import { dequantizeRowQ4_1 } from "./dequant/q4_1.ts";
import { dequantizeRowQ4K } from "./dequant/q4_k.ts";
import { dequantizeRowQ5_0 } from "./dequant/q5_0.ts";
import { dequantizeRowQ5_1 } from "./dequant/q5_1.ts";
import { dequantizeRowQ5K } from "./dequant/q5_k.ts";
import { dequantizeRowQ6K } from "./dequant/q6_k.ts";
import { dequantizeRowQ8_0 } from "./dequant/q8_0.ts";

/**
 * A dequantization kernel: reads `blocks` whole blocks from `src` (starting at its
 * first byte) and writes `blocks × blockSize` float32 values to `dst` (starting at
 * its first element). Allocates nothing and checks nothing: its caller does.
 * `littleEndian` is `false` only for big-endian files.
 */
export type DequantizeKernel = (
  src: Uint8Array,
  dst: Float32Array,
  blocks: number,
  littleEndian: boolean,
) => void;

/** What gguf-stream knows about one ggml tensor type. */
export interface GgmlTypeTraits {
  /** The type id stored in the file. */
  readonly id: number;
  /** The ggml name, e.g. `Q4_K`. */
  readonly name: string;
  /** Elements per block (1 for plain types). */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly bytesPerBlock: number;
  /** The kernel that turns blocks into float32, if gguf-stream has one. */
  readonly dequantize: DequantizeKernel | undefined;
  /** Whether a kernel reads multi-byte fields and so can run on big-endian data. */
  readonly endianAware: boolean;
}

/** K-quant super-block size. */
export const QK_K = 256;

function traits(
  id: number,
  name: string,
  blockSize: number,
  bytesPerBlock: number,
  dequantize?: DequantizeKernel,
  endianAware = false,
): GgmlTypeTraits {
  return { id, name, blockSize, bytesPerBlock, dequantize, endianAware };
}

const TABLE: readonly GgmlTypeTraits[] = [
  traits(0, "F32", 1, 4, dequantizeRowF32, true),
  traits(1, "F16", 1, 2, dequantizeRowF16, true),
  traits(2, "Q4_0", 32, 18, dequantizeRowQ4_0),
  traits(3, "Q4_1", 32, 20, dequantizeRowQ4_1),
  traits(6, "Q5_0", 32, 22, dequantizeRowQ5_0),
  traits(7, "Q5_1", 32, 24, dequantizeRowQ5_1),
  traits(8, "Q8_0", 32, 34, dequantizeRowQ8_0),
  traits(9, "Q8_1", 32, 36),
  traits(10, "Q2_K", QK_K, 84, dequantizeRowQ2K),
  traits(11, "Q3_K", QK_K, 110, dequantizeRowQ3K),
  traits(12, "Q4_K", QK_K, 144, dequantizeRowQ4K),
  traits(13, "Q5_K", QK_K, 176, dequantizeRowQ5K),
  traits(14, "Q6_K", QK_K, 210, dequantizeRowQ6K),
  traits(15, "Q8_K", QK_K, 292),
  traits(16, "IQ2_XXS", QK_K, 66),
  traits(17, "IQ2_XS", QK_K, 74),
  traits(18, "IQ3_XXS", QK_K, 98),
  traits(19, "IQ1_S", QK_K, 50),
  traits(20, "IQ4_NL", 32, 18, dequantizeRowIq4Nl),
  traits(21, "IQ3_S", QK_K, 110),
  traits(22, "IQ2_S", QK_K, 82),
  traits(23, "IQ4_XS", QK_K, 136, dequantizeRowIq4Xs),
  traits(24, "I8", 1, 1),
  traits(25, "I16", 1, 2),
  traits(26, "I32", 1, 4),
  traits(27, "I64", 1, 8),
  traits(28, "F64", 1, 8),
  traits(29, "IQ1_M", QK_K, 56),
  traits(30, "BF16", 1, 2, dequantizeRowBf16, true),
  traits(34, "TQ1_0", QK_K, 54),
  traits(35, "TQ2_0", QK_K, 66),
  traits(39, "MXFP4", 32, 17),
  traits(40, "NVFP4", 64, 36),
  traits(41, "Q1_0", 128, 18),
  traits(42, "Q2_0", 64, 18),
];

const BY_ID: (GgmlTypeTraits | undefined)[] = [];
const BY_NAME = new Map<string, GgmlTypeTraits>();
for (const entry of TABLE) {
  BY_ID[entry.id] = entry;
  BY_NAME.set(entry.name, entry);
}

/** Every ggml type id current ggml defines (ids 4, 5, 31–33 and 36–38 were removed). */
export const GGML_TYPES: readonly GgmlTypeTraits[] = TABLE;

/**
 * Looks up a ggml type by id.
 *
 * @param id A ggml type id as stored in a tensor index.
 * @returns The type's traits, or `undefined` for an id ggml does not define.
 *
 * @example
 * ```ts
 * import { ggmlTypeTraits } from "../mod.ts";
 * import assert from "node:assert/strict";
 * assert.equal(ggmlTypeTraits(12)?.name, "Q4_K");
 * assert.equal(ggmlTypeTraits(12)?.bytesPerBlock, 144);
 * assert.equal(ggmlTypeTraits(4), undefined);
 * ```
 */
export function ggmlTypeTraits(id: number): GgmlTypeTraits | undefined {
  return Number.isInteger(id) && id >= 0 ? BY_ID[id] : undefined;
}

/**
 * Looks up a ggml type by name, case-insensitively.
 *
 * @param name A type name such as `q4_k` or `F16`.
 * @returns The type's traits, or `undefined` for an unknown name.
 *
 * @example
 * ```ts
 * import { ggmlTypeByName } from "../mod.ts";
 * import assert from "node:assert/strict";
 * assert.equal(ggmlTypeByName("q6_k")?.id, 14);
 * ```
 */
export function ggmlTypeByName(name: string): GgmlTypeTraits | undefined {
  return BY_NAME.get(name.toUpperCase());
}
