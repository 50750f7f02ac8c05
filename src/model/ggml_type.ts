/**
 * One table of every ggml tensor type: id, name, block size and bytes per block, looked
 * up by id or by name. Kernels are not here: `src/convert/kernels.ts` pairs them with ids.
 *
 * @module
 */

/** What every ggml tensor type is, as the file format defines it. */
export interface GgmlTypeTraits {
  /** The type id stored in the file. */
  readonly id: number;
  /** The ggml name, e.g. `Q4_K`. */
  readonly name: GgmlTypeName;
  /** Elements per block (1 for plain types). */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly bytesPerBlock: number;
}

/** K-quant super-block size. */
export const QK_K = 256;

/**
 * Every ggml type id by name, and every name by id: `GgmlType.Q4_K === 12`. Ids 4, 5,
 * 31–33 and 36–38 were removed from ggml and are absent.
 */
export const GgmlType = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q5_0: 6,
  Q5_1: 7,
  Q8_0: 8,
  Q8_1: 9,
  Q2_K: 10,
  Q3_K: 11,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
  Q8_K: 15,
  IQ2_XXS: 16,
  IQ2_XS: 17,
  IQ3_XXS: 18,
  IQ1_S: 19,
  IQ4_NL: 20,
  IQ3_S: 21,
  IQ2_S: 22,
  IQ4_XS: 23,
  I8: 24,
  I16: 25,
  I32: 26,
  I64: 27,
  F64: 28,
  IQ1_M: 29,
  BF16: 30,
  TQ1_0: 34,
  TQ2_0: 35,
  MXFP4: 39,
  NVFP4: 40,
  Q1_0: 41,
  Q2_0: 42,
} as const;

/** A ggml type name, e.g. `"Q4_K"`. */
export type GgmlTypeName = keyof typeof GgmlType;

/** Block size and bytes per block by name (ggml's `type_traits`). */
const LAYOUT: Readonly<Record<GgmlTypeName, readonly [number, number]>> = {
  F32: [1, 4],
  F16: [1, 2],
  Q4_0: [32, 18],
  Q4_1: [32, 20],
  Q5_0: [32, 22],
  Q5_1: [32, 24],
  Q8_0: [32, 34],
  Q8_1: [32, 36],
  Q2_K: [QK_K, 84],
  Q3_K: [QK_K, 110],
  Q4_K: [QK_K, 144],
  Q5_K: [QK_K, 176],
  Q6_K: [QK_K, 210],
  Q8_K: [QK_K, 292],
  IQ2_XXS: [QK_K, 66],
  IQ2_XS: [QK_K, 74],
  IQ3_XXS: [QK_K, 98],
  IQ1_S: [QK_K, 50],
  IQ4_NL: [32, 18],
  IQ3_S: [QK_K, 110],
  IQ2_S: [QK_K, 82],
  IQ4_XS: [QK_K, 136],
  I8: [1, 1],
  I16: [1, 2],
  I32: [1, 4],
  I64: [1, 8],
  F64: [1, 8],
  IQ1_M: [QK_K, 56],
  BF16: [1, 2],
  TQ1_0: [QK_K, 54],
  TQ2_0: [QK_K, 66],
  MXFP4: [32, 17],
  NVFP4: [64, 36],
  Q1_0: [128, 18],
  Q2_0: [64, 18],
};

const TABLE: readonly GgmlTypeTraits[] = (Object.keys(GgmlType) as GgmlTypeName[]).map((name) =>
  Object.freeze({
    id: GgmlType[name],
    name,
    blockSize: LAYOUT[name][0],
    bytesPerBlock: LAYOUT[name][1],
  })
);

const BY_ID: (GgmlTypeTraits | undefined)[] = [];
const BY_NAME = new Map<string, GgmlTypeTraits>();
for (const entry of TABLE) {
  BY_ID[entry.id] = entry;
  BY_NAME.set(entry.name, entry);
}

/** Every ggml type current ggml defines, in id order. */
export const GGML_TYPES: readonly GgmlTypeTraits[] = TABLE;

/**
 * Looks up a ggml type by id, or by name case-insensitively.
 *
 * @param type A ggml type id as stored in a tensor index, or a name such as `q4_k`.
 * @returns The type's traits, or `undefined` for an id or name ggml does not define.
 *
 * @example
 * ```ts
 * import { ggmlType } from "gguf-stream";
 * import assert from "node:assert/strict";
 * assert.equal(ggmlType(12)?.name, "Q4_K");
 * assert.equal(ggmlType("q6_k")?.id, 14);
 * assert.equal(ggmlType(14)?.bytesPerBlock, 210);
 * assert.equal(ggmlType(4), undefined);
 * ```
 */
export function ggmlType(type: number | string): GgmlTypeTraits | undefined {
  if (typeof type === "string") return BY_NAME.get(type.toUpperCase());
  return Number.isInteger(type) && type >= 0 ? BY_ID[type] : undefined;
}

/**
 * Looks up a ggml type that must exist (an id already validated by the parser, or a
 * name from a caller), throwing a `TypeError` otherwise.
 *
 * @param type A ggml type id or name.
 * @returns The type's traits.
 * @throws {TypeError} For an id or name ggml does not define.
 *
 * @example
 * ```ts
 * import { requireGgmlType } from "./ggml_type.ts";
 * import assert from "node:assert/strict";
 * assert.equal(requireGgmlType("Q8_0").blockSize, 32);
 * assert.throws(() => requireGgmlType("Q9"), TypeError);
 * ```
 */
export function requireGgmlType(type: number | string): GgmlTypeTraits {
  const traits = ggmlType(type);
  if (traits === undefined) {
    throw new TypeError(
      `Unknown ggml type ${JSON.stringify(type)} (expected one of ${
        TABLE.map((t) => t.name).join(", ")
      })`,
    );
  }
  return traits;
}

/**
 * The bytes that `elements` values take in a type, as whole blocks.
 *
 * @param traits The type.
 * @param elements A whole number of the type's blocks' values.
 * @returns `elements / blockSize × bytesPerBlock`.
 *
 * @example
 * ```ts
 * import { bytesFor, requireGgmlType } from "./ggml_type.ts";
 * import assert from "node:assert/strict";
 * assert.equal(bytesFor(requireGgmlType("Q8_0"), 64), 68);
 * assert.equal(bytesFor(requireGgmlType("F32"), 3), 12);
 * ```
 */
export function bytesFor(traits: GgmlTypeTraits, elements: number): number {
  return (elements / traits.blockSize) * traits.bytesPerBlock;
}
