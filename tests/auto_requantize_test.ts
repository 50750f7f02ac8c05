import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import {
  convertGguf,
  convertStream,
  dequantize,
  ggmlType,
  quantize,
  type TensorPlan,
} from "../mod.ts";
import { autoCandidates } from "../src/convert/policy.ts";
import { bitsPerWeight } from "../kernels.ts";
import { openGgufModel } from "../sources.ts";
import { prepareMeasuredConversion, resolvePolicy } from "../pipeline.ts";
import { conformance, fixture, fixtureBytes } from "./_fixtures.ts";

const silent = () => {};
const FIXTURES = ["gen/kquants.gguf", "gen/legacy.gguf", "gen/all-types.gguf"];
/** A target with every quantized type ggml has (the build's quantizers decide what is tried). */
const TARGET = [
  "Q4_0",
  "Q4_1",
  "Q5_0",
  "Q5_1",
  "Q8_0",
  "Q2_K",
  "Q3_K",
  "Q4_K",
  "Q5_K",
  "Q6_K",
  "IQ4_NL",
  "IQ4_XS",
  "MXFP4",
  "F16",
  "F32",
];

/**
 * The relative RMS error of `type` on `x`, by quantize() then dequantize(), over the finite
 * values of `x`.
 */
function errorOf(type: string, x: Float32Array): number {
  const out = dequantize(type, quantize(type, x));
  let error = 0;
  let reference = 0;
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) continue; // as documented: no error relative to NaN or Inf
    error += (out[i] - x[i]) ** 2;
    reference += x[i] ** 2;
  }
  return reference === 0 ? Math.sqrt(error) : Math.sqrt(error / reference);
}

for (const maxError of [0.005, 0.1]) {
  test(
    `auto picks, per tensor, the cheapest target type within ${maxError} (brute force)`,
    conformance,
    async () => {
      let chosen = 0;
      for (const id of FIXTURES) {
        const f = fixture(id);
        const source = fixtureBytes(f);
        // Every tensor is left to auto, whatever its type.
        const types = Object.fromEntries(
          f.expected.tensors.map((t) => [t.type, "requantize" as const]),
        );
        const policy = {
          target: TARGET,
          types,
          requantize: "auto",
          maxError,
          method: "reference",
        } as const;
        const model = await openGgufModel(f.path, { lenient: true });
        let plan: TensorPlan[];
        try {
          plan = (await prepareMeasuredConversion(model, { policy, onWarning: silent })).plan;
        } finally {
          await model.close();
        }
        const resolved = resolvePolicy(policy);
        for (const [i, want] of f.expected.tensors.entries()) {
          const entry = plan[i];
          if (!entry.auto) continue;
          const start = f.expected.data_offset + want.offset;
          const x = dequantize(want.type, source.subarray(start, start + want.nbytes));
          const where = `${id} ${want.name} (${want.type}) -> ${entry.typeName}`;
          const candidates = autoCandidates(want.shape[0], resolved.target);
          // Its own type is kept: no error.
          const cost = (type: string) => (type === want.type ? 0 : errorOf(type, x));
          const within = candidates.filter((type) => cost(type) <= maxError);
          chosen++;
          if (within.length === 0) {
            assert.equal(entry.typeName, "F32", where);
            continue;
          }
          // The fewest bits per weight within the budget; of the types of that size (Q4_0,
          // Q4_K and IQ4_NL; F16 and BF16), the least error.
          const size = (type: string) => bitsPerWeight(ggmlType(type)!);
          const fewest = Math.min(...within.map(size));
          const best = within.filter((type) => size(type) === fewest)
            .reduce((a, b) => (cost(b) < cost(a) ? b : a));
          assert.equal(entry.typeName, best, where);
          const bits = bitsPerWeight(ggmlType(entry.typeName)!);
          for (const type of candidates) {
            if (bitsPerWeight(ggmlType(type)!) < bits) {
              assert.ok(!(cost(type) <= maxError), `${where}: ${type} fits too`); // NaN: no
            }
          }
          assert.ok(entry.error! <= maxError, where);
          assert.ok(Math.abs(entry.error! - cost(entry.typeName)) <= 1e-12, where);
        }
      }
      assert.ok(chosen > 10, `only ${chosen} tensors chosen`);
    },
  );
}

test(
  "auto writes what it measured: memory output equals the measured plan",
  conformance,
  async () => {
    const f = fixture("gen/kquants.gguf");
    const policy = { target: TARGET, requantize: "auto" as const, maxError: 0.02 };
    const model = await convertGguf(f.path, { policy, onWarning: silent });
    for (const tensor of model.tensors.values()) {
      if (tensor.action === "keep" || tensor.typeName === "F32") continue;
      assert.ok(TARGET.includes(tensor.typeName), tensor.name);
    }
    assert.ok(model.summary.relativeError <= 0.02);
  },
);

test(
  "auto over a one-pass stream follows its rule: the most accurate quantized candidate",
  conformance,
  async () => {
    const f = fixture("gen/legacy.gguf");
    const bytes = fixtureBytes(f);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes.slice());
        controller.close();
      },
    });
    const policy = {
      target: ["Q4_0", "Q8_0", "F32"],
      requantize: "auto" as const,
      method: "reference" as const,
    };
    const out = new Uint8Array(
      await new Response(
        convertStream(stream, { policy, onWarning: silent }),
      )
        .arrayBuffer(),
    );
    const back = await convertGguf(out, {
      policy: { target: ["Q4_0", "Q8_0", "F32", "Q4_1", "Q5_0", "Q5_1"] },
    });
    for (const want of f.expected.tensors) {
      const got = back.tensors.get(want.name)!;
      if (["Q4_0", "Q8_0", "F32"].includes(want.type)) assert.equal(got.typeName, want.type);
      else assert.equal(got.typeName, want.shape[0] % 32 === 0 ? "Q8_0" : "F32", want.name);
    }
  },
);

test("a one-pass rule that writes F16 or BF16 where a quantized type fits is warned of", async () => {
  const bytes = readFileSync(new URL("../samples/tiny-llama.gguf", import.meta.url));
  const convert = async (target: string[]) => {
    const warnings: string[] = [];
    const stream = new Blob([bytes]).stream();
    const policy = { target, requantize: "auto" as const };
    await new Response(convertStream(stream, { policy, onWarning: (w) => warnings.push(w) }))
      .arrayBuffer();
    return warnings;
  };
  const [warning, ...rest] = await convert(["Q4_0", "Q8_0", "F16", "F32"]);
  assert.deepEqual(rest, []);
  assert.match(warning, /^15 tensors written as F16 by auto's rule for a one-pass input, /);
  assert.match(warning, /from a file, auto measures/);
  // Q8_0 as the largest candidate, or F16 with nothing quantized beside it: no warning.
  assert.deepEqual(await convert(["Q4_0", "Q8_0", "F32"]), []);
  assert.deepEqual(await convert(["F16", "F32"]), []);
});
