/**
 * Runtime profiles: the ggml types each runtime users name loads, as data, with where each
 * list comes from. `--for NAME` (the policy's `profile`) makes a profile's list the target.
 *
 * @module
 */
import { GGML_TYPES, type GgmlTypeName } from "../model/ggml_type.ts";

/** One runtime's profile. */
export interface RuntimeProfile {
  /** The name `--for` takes (lower case). */
  readonly name: string;
  /** Other names for it. */
  readonly aliases: readonly string[];
  /** The types the runtime loads. */
  readonly types: readonly GgmlTypeName[];
  /** Where the list comes from: the runtime's source file and version. */
  readonly source: string;
}

/**
 * Every type with an entry in ggml's `type_traits` table: {@linkcode GGML_TYPES} holds only
 * current ids (the removed Q4_2, Q4_3 and the repacked Q4_0_4_4 family are not in it).
 */
const LLAMA_CPP_TYPES: readonly GgmlTypeName[] = GGML_TYPES.map((t) => t.name);

// Read from the runtimes' own sources: candle 0.11.0 (huggingface/candle at 2a13b0f3,
// 2026-08-14), candle-core/src/quantized/mod.rs, `GgmlDType::from_u32` (any other id is
// "unknown dtype for tensor"); MLX 0.32.2 (ml-explore/mlx at 846d1762, 2026-08-22),
// mlx/io/gguf.cpp: F32, F16, I8, I16 and I32 are copied as they are, Q4_0, Q4_1 and Q8_0
// loaded quantized (gguf_quants.cpp), every other type cast to F16 on load.
const PROFILES: readonly RuntimeProfile[] = Object.freeze([
  {
    name: "candle",
    aliases: ["mistral.rs", "mistralrs"],
    types: [
      "F32",
      "F16",
      "BF16",
      "Q4_0",
      "Q4_1",
      "Q5_0",
      "Q5_1",
      "Q8_0",
      "Q8_1",
      "Q2_K",
      "Q3_K",
      "Q4_K",
      "Q5_K",
      "Q6_K",
      "Q8_K",
    ],
    source:
      "candle 0.11.0 candle-core/src/quantized/mod.rs (GgmlDType::from_u32); mistral.rs loads through candle's",
  },
  {
    name: "mlx",
    aliases: [],
    types: ["F32", "F16", "Q4_0", "Q4_1", "Q8_0", "I8", "I16", "I32"],
    source:
      "MLX 0.32.2 mlx/io/gguf.cpp and gguf_quants.cpp (Q4_0, Q4_1, Q8_0 kept quantized; F32, F16, I8, I16, I32 as they are; others cast to F16)",
  },
  {
    name: "llama.cpp",
    aliases: ["llamacpp", "ggml"],
    types: LLAMA_CPP_TYPES,
    source: "ggml src/ggml.c type_traits (every type with an entry; removed ids excluded)",
  },
  {
    name: "q4q8",
    aliases: [],
    types: ["Q4_0", "Q8_0", "F32"],
    source:
      "runtimes with Q4_0, Q8_0 and F32 kernels only (the JVM runtime gguf-stream began with)",
  },
]);

/**
 * Every runtime profile, for listing (`--for help`).
 *
 * @returns The profiles, in a fixed order.
 *
 * @example
 * ```ts
 * import { runtimeProfiles } from "gguf-stream/pipeline";
 * import assert from "node:assert/strict";
 * assert.deepEqual(runtimeProfiles().map((p) => p.name), ["candle", "mlx", "llama.cpp", "q4q8"]);
 * ```
 */
export function runtimeProfiles(): readonly RuntimeProfile[] {
  return PROFILES;
}

/**
 * The profile with a name or alias (case-insensitive).
 *
 * @param name E.g. `candle`, `mistral.rs`, `MLX`.
 * @returns The profile.
 * @throws {TypeError} For an unknown name, listing the known ones.
 *
 * @example
 * ```ts
 * import { runtimeProfile } from "gguf-stream/pipeline";
 * import assert from "node:assert/strict";
 * assert.deepEqual(runtimeProfile("Q4Q8").types, ["Q4_0", "Q8_0", "F32"]);
 * assert.equal(runtimeProfile("mistral.rs").name, "candle");
 * assert.throws(() => runtimeProfile("onnx"), TypeError);
 * ```
 */
export function runtimeProfile(name: string): RuntimeProfile {
  const key = name.trim().toLowerCase();
  const found = PROFILES.find((p) => p.name === key || p.aliases.includes(key));
  if (found === undefined) {
    throw new TypeError(
      `unknown runtime "${name}" (known: ${
        PROFILES.map((p) => p.aliases.length ? `${p.name} (${p.aliases.join(", ")})` : p.name)
          .join(", ")
      })`,
    );
  }
  return found;
}
