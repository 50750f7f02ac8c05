/**
 * The memory budget of one header parse: every string, array element, nested array,
 * metadata entry and tensor entry is charged what it will cost in memory *before* it is
 * allocated, so a hostile header (millions of empty arrays or strings, a vast boolean
 * array, millions of tensors or keys) ends in `LIMIT_EXCEEDED` instead of exhausting the
 * process. The parser charges a whole header in a scan that allocates nothing before it
 * builds anything.
 *
 * The costs are conservative estimates measured on V8 (Deno 2.9; 8-byte slots) and
 * JavaScriptCore (Bun 1.4), heap and resident memory alike, taking the larger:
 *
 * | what                                          | V8  | JSC | charged          |
 * | --------------------------------------------- | --- | --- | ---------------- |
 * | an element of a JS array (push-grown)         | 8   | 9   | 12               |
 * | a boolean, with the copies growth leaves      | 20  | 22  | 24               |
 * | a short string, besides its characters        | 24  | 32  | 40 + 2 per byte  |
 * | a `GgufArray` holding a JS array              | 72  | 96  | 96               |
 * | a typed array and its buffer (sliced, empty)  | 440 | 400 | 448 + its bytes  |
 * | a metadata entry, with what the plan keeps    |1200 |1600 | 2048 + its key   |
 * | a tensor entry, with plan and output layout   |2600 |3300 | 3072 + its name  |
 * | a byte of the header (prefix read, output)    | 2   | 2   | 2                |
 *
 * Characters are charged two bytes per UTF-8 byte: a string that needs 16-bit storage
 * takes up to twice its UTF-8 length, and which one it is shows only after decoding.
 * Entries and tensors are charged what a conversion keeps for each (its plan entry, the
 * text or JSON of the plan, the output layout), so a header within budget converts
 * within budget too. Real vocabularies need far less than the default: a Llama-3-like
 * one (128k tokens, 280k merges) 44 MiB, Qwen-2-like (152k + 151k) 32 MiB, Gemma-3-like
 * (262k tokens) 29 MiB, llama.cpp's ggml-vocab files 4 to 14 MiB.
 *
 * @module
 */
import { formatInteger, GgufError } from "../model/errors.ts";

/** The default budget: 64 MiB, half again what a Llama-3-like vocabulary needs. */
export const DEFAULT_MAX_HEADER_MEMORY = 64 << 20;

/** One element of a JS array (a pointer, with push's growth slack). */
export const SLOT_COST = 12;
/** An element of a boolean array, with the copies a growing array leaves behind. */
export const BOOLEAN_COST = 24;
/** A string's header, besides its characters. */
export const STRING_COST = 40;
/** Memory per UTF-8 byte of a string (16-bit storage at worst). */
export const CHAR_COST = 2;
/** A `GgufArray` object holding a JS array. */
export const ARRAY_COST = 96;
/** A `GgufArray` holding a typed array: the object, the typed array and its buffer. */
export const TYPED_ARRAY_COST = 448;
/** A metadata entry (its object, a boxed scalar and its slot in the `Map`), besides its key. */
export const ENTRY_COST = 2048;
/** A tensor entry, besides its name: the object, its shape, its slot in the name set and index, and a conversion's plan entry and layout for it. */
export const TENSOR_COST = 3072;
/**
 * Memory per byte of the header itself: the copy it is parsed from (a prefix read, a
 * stream's buffer) and the output header a conversion encodes from it.
 */
export const HEADER_BYTE_COST = 2;
/**
 * The most elements a JS array may hold on every runtime (V8's limit is 2^27); arrays of
 * strings, booleans or arrays longer than this are refused whatever the budget.
 */
export const MAX_LIST_LENGTH = 2 ** 27;

/**
 * How much memory a parse may still allocate, and who to blame when it runs out.
 *
 * @example
 * ```ts
 * import { MemoryBudget } from "./memory_budget.ts";
 * import assert from "node:assert/strict";
 * const budget = new MemoryBudget(1000);
 * budget.charge(600, 24, "the tokens");
 * assert.throws(() => budget.charge(600, 80, "the merges"), { code: "LIMIT_EXCEEDED" });
 * ```
 */
export class MemoryBudget {
  /** The budget in bytes. */
  readonly max: number;
  /** Bytes not yet charged. */
  left: number;

  /**
   * Starts a budget of `max` bytes.
   *
   * @param max The budget in bytes; `TypeError` unless a positive safe integer.
   */
  constructor(max: number) {
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new TypeError(`maxHeaderMemory must be a positive integer (bytes), got ${max}`);
    }
    this.max = max;
    this.left = max;
  }

  /**
   * Charges `bytes` for `what` at byte `at`.
   *
   * @throws {GgufError} `LIMIT_EXCEEDED` once the budget is spent.
   */
  charge(bytes: number, at: number, what: string): void {
    this.left -= bytes;
    if (this.left < 0) throw this.exceeded(bytes, at, what);
  }

  /** The error for a charge of `bytes` that did not fit. */
  exceeded(bytes: number, at: number, what: string): GgufError {
    const spent = this.max - Math.max(0, this.left + bytes);
    return new GgufError(
      "LIMIT_EXCEEDED",
      `Cannot read ${what} at byte ${formatInteger(at)}: it needs about ${
        formatInteger(bytes)
      } bytes of memory, but the header has already used ${formatInteger(spent)} of its ${
        formatInteger(this.max)
      }-byte budget (raise the budget, option maxHeaderMemory, if the model really has such metadata)`,
      at,
    );
  }
}
