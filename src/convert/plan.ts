/**
 * The conversion plan: for every tensor, its action, output type, output size and the
 * reason, decided (and checked) before any tensor is converted; and the warnings a plan
 * deserves.
 *
 * @module
 */
import type { ConversionPolicy, TensorPlan } from "../model/conversion.ts";
import { bytesFor, requireGgmlType } from "../model/ggml_type.ts";
import type { GgufFile } from "../model/gguf_file.ts";
import type { GgufModel } from "../model/gguf_model.ts";
import { autoCandidates, decideTensor, type ResolvedPolicy, resolvePolicy } from "./policy.ts";

/**
 * Plans the conversion of every tensor of a header or model under a policy. Refusals and
 * impossible requests are raised here, before any data is read or written.
 *
 * @param file A parsed header, or a model opened with `openGgufModel`.
 * @param policy The target, requantization and overrides (see {@linkcode ConversionPolicy}).
 * @returns One entry per tensor, in file order.
 * @throws {TypeError} For a malformed policy.
 * @throws {GgufError} `REFUSED`, `UNSUPPORTED_TYPE`, `UNSUPPORTED_BYTE_ORDER` or
 *   `BAD_BLOCK_SIZE` as {@linkcode decideTensor} raises them.
 *
 * @example
 * ```ts
 * import { planConversion, readGguf } from "gguf-stream";
 * import assert from "node:assert/strict";
 * const file = await readGguf(new URL("../../samples/tiny-llama.gguf", import.meta.url));
 * const plan = planConversion(file, { requantize: "Q8_0" });
 * const q4k = plan.find((p) => p.info.typeName === "Q4_K")!;
 * assert.equal(q4k.action, "requantize");
 * assert.equal(q4k.typeName, "Q8_0");
 * assert.equal(q4k.nbytes, (q4k.info.elements / 32) * 34);
 * ```
 */
export function planConversion(
  file: GgufFile | GgufModel,
  policy: ConversionPolicy | ResolvedPolicy = {},
): TensorPlan[] {
  const resolved = isResolved(policy) ? policy : resolvePolicy(policy);
  const littleEndian = (i: number) =>
    "parts" in file ? file.parts[file.tensorParts[i]].header.littleEndian : file.littleEndian;
  return file.tensors.map((info, i) => {
    const decision = decideTensor(info, resolved, littleEndian(i));
    const out = requireGgmlType(decision.typeName);
    const entry: TensorPlan = {
      info,
      action: decision.action,
      type: out.id,
      typeName: out.name,
      nbytes: bytesFor(out, info.elements),
      reason: decision.reason,
      unsupported: decision.unsupported,
    };
    if (decision.auto) entry.auto = true;
    return entry;
  });
}

/** How a plan entry's reason ends when `auto` chose by its one-pass rule, not measuring. */
export const AUTO_BY_RULE = "auto (one-pass stream: by rule, not measured)";
const FLOATS: ReadonlySet<string> = new Set(["F16", "BF16"]);

function isResolved(policy: ConversionPolicy | ResolvedPolicy): policy is ResolvedPolicy {
  return policy.target instanceof Set;
}

/**
 * The warnings a plan deserves: one per type kept only because it has no kernel (with how
 * many tensors), one for tensors whose blocks ran across rows, one for F32 outputs when
 * the target lacks F32, and one for tensors `auto` wrote as F16 or BF16 by its one-pass
 * rule where a quantized type could have held them.
 *
 * @param plan A plan from {@linkcode planConversion}.
 * @param policy The policy it was made under.
 * @returns The messages, in order of first appearance.
 *
 * @example
 * ```ts
 * import { conversionWarnings, planConversion, readGguf } from "gguf-stream";
 * import assert from "node:assert/strict";
 * const file = await readGguf(new URL("../../samples/tiny-llama.gguf", import.meta.url));
 * assert.deepEqual(conversionWarnings(planConversion(file)), []);
 * ```
 */
export function conversionWarnings(
  plan: readonly TensorPlan[],
  policy: ConversionPolicy | ResolvedPolicy = {},
): string[] {
  const resolved = isResolved(policy) ? policy : resolvePolicy(policy);
  const unsupported = new Map<string, { count: number; reason: string }>();
  let crossRow = 0;
  let f32Outside = 0;
  /** Tensors `auto` wrote as F16 or BF16 by its one-pass rule, by type. */
  const floatByRule = new Map<string, number>();
  for (const entry of plan) {
    if (
      entry.reason.endsWith(AUTO_BY_RULE) && FLOATS.has(entry.typeName) &&
      autoCandidates(entry.info.shape[0], resolved.target).some((name) => !FLOATS.has(name))
    ) floatByRule.set(entry.typeName, (floatByRule.get(entry.typeName) ?? 0) + 1);
    if (entry.unsupported) {
      const seen = unsupported.get(entry.info.typeName);
      if (seen) seen.count++;
      else unsupported.set(entry.info.typeName, { count: 1, reason: entry.reason });
    }
    if (entry.reason.startsWith("blocks run across rows")) crossRow++;
    if (entry.typeName === "F32" && !resolved.target.has("F32")) f32Outside++;
  }
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  const messages = [...unsupported].map(([type, { count, reason }]) =>
    `${plural(count, `${type} tensor`)} kept as ${type}, outside the target: ${
      reason === "big-endian blocks"
        ? "their big-endian blocks cannot be converted"
        : `gguf-stream has no ${type} kernel`
    }`
  );
  if (crossRow > 0) {
    messages.push(
      `${
        plural(crossRow, "tensor")
      } whose blocks run across rows converted (llama.cpp cannot load them as they are)`,
    );
  }
  if (f32Outside > 0) {
    messages.push(
      `${plural(f32Outside, "tensor")} written as F32, which is not in the target (${
        resolved.requantize === undefined
          ? "nothing is requantized: name a target type to requantize into"
          : "their rows cannot be requantized"
      })`,
    );
  }
  if (floatByRule.size > 0) {
    const count = [...floatByRule.values()].reduce((a, b) => a + b, 0);
    messages.push(
      `${plural(count, "tensor")} written as ${
        [...floatByRule.keys()].join(" and ")
      } by auto's rule for a one-pass input, which cannot be measured before it is written: ` +
        "from a file, auto measures and may choose fewer bits; or name the type to requantize into",
    );
  }
  return messages;
}
