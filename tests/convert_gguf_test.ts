import assert from "node:assert/strict";
import { test } from "node:test";
import {
  convertGguf,
  convertTensors,
  DEFAULT_STRATEGIES,
  dequantize,
  dequantizerOf,
  dequantizeRows,
  GGML_TYPES,
  GgufError,
  type Strategy,
} from "../mod.ts";
import { conformance, fixture, fixtureBytes, listFixtures, STRICT_REFUSALS } from "./_fixtures.ts";
import { sha256 } from "./_hash.ts";
import { SOURCE_KINDS } from "./_sources.ts";

const fixtures = listFixtures();
const silent = () => {};

/** A policy that dequantizes every type gguf-stream has a kernel for. */
const ALL_FLOAT: Record<string, Strategy> = Object.fromEntries(
  GGML_TYPES.filter((t) => dequantizerOf(t) !== undefined).map((t) => [t.name, "dequantize"]),
);

for (const kind of SOURCE_KINDS) {
  test(
    `convertGguf() is bit-exact with ggml for every fixture through ${kind.name}`,
    conformance,
    async () => {
      let checked = 0;
      for (const f of fixtures) {
        const bytes = fixtureBytes(f);
        for (const types of [undefined, ALL_FLOAT]) {
          const source = await kind.open(f.path);
          try {
            const lenient = STRICT_REFUSALS[f.id] !== undefined;
            const model = await convertGguf(source, {
              lenient,
              policy: { types },
              onWarning: silent,
            });
            const expected = f.expected.tensors;
            assert.equal(model.tensors.size, expected.length);
            for (const [i, tensor] of [...model.tensors.values()].entries()) {
              const want = expected[i];
              assert.equal(tensor.name, want.name);
              assert.deepEqual(tensor.shape, want.shape);
              assert.deepEqual(tensor.rowMajorShape, want.shape.slice().reverse());
              if (tensor.kind === "float32" && want.f32_sha256 !== null) {
                assert.equal(
                  sha256(tensor.data),
                  want.f32_sha256,
                  `${f.id} ${tensor.name} (${tensor.sourceType})`,
                );
                checked++;
              } else if (tensor.kind !== "float32") {
                const start = f.expected.data_offset + want.offset;
                assert.deepEqual(
                  tensor.data,
                  bytes.subarray(start, start + want.nbytes),
                  `${f.id} ${tensor.name}`,
                );
              }
            }
          } catch (error) {
            if (error instanceof Error) error.message = `${f.id}: ${error.message}`;
            throw error;
          } finally {
            await source.close();
          }
        }
      }
      assert.ok(checked > 300, `only ${checked} float32 tensors checked`);
    },
  );
}

test(
  "the default policy views Q4_0/Q8_0, dequantizes K-quants and passes F32 through",
  conformance,
  async () => {
    const model = await convertGguf(fixture("gen/all-types.gguf").path, { onWarning: silent });
    for (const tensor of model.tensors.values()) {
      const strategy = DEFAULT_STRATEGIES[tensor.sourceType] ?? "passthrough";
      assert.equal(tensor.strategy, strategy, tensor.name);
      if (strategy === "view") {
        assert.equal(tensor.kind, "packed");
        assert.equal(tensor.type, tensor.sourceType);
        assert.ok(tensor.data instanceof Uint8Array);
      } else if (strategy === "dequantize" || tensor.sourceType === "F32") {
        assert.equal(tensor.kind, "float32");
        assert.equal(tensor.type, "F32");
        assert.ok(tensor.data instanceof Float32Array);
      } else {
        assert.equal(tensor.kind, "raw");
        assert.equal(tensor.type, tensor.sourceType);
      }
    }
  },
);

test("convertGguf() warns once per uncovered type", conformance, async () => {
  const warnings: string[] = [];
  await convertGguf(fixture("gen/all-types.gguf").path, { onWarning: (m) => warnings.push(m) });
  const types = warnings.map((w) => w.match(/no rule covers (\S+)/)![1]);
  assert.deepEqual(types.slice().sort(), [...new Set(types)].sort());
  assert.ok(types.includes("F16") && types.includes("IQ4_XS") && types.includes("MXFP4"));
  assert.ok(!types.includes("Q4_K") && !types.includes("F32") && !types.includes("Q4_0"));
});

test("per-type and per-tensor overrides change the strategy", conformance, async () => {
  const path = fixture("gen/all-types.gguf").path;
  const model = await convertGguf(path, {
    onWarning: silent,
    policy: {
      types: { q4_k: "view", F16: "dequantize" },
      tensor: (t) => (t.name === "token_embd.weight" ? "dequantize" : undefined),
    },
  });
  for (const tensor of model.tensors.values()) {
    if (tensor.name === "token_embd.weight") assert.equal(tensor.kind, "float32");
    else if (tensor.sourceType === "Q4_K") assert.equal(tensor.kind, "packed");
    else if (tensor.sourceType === "F16") assert.equal(tensor.kind, "float32");
  }
});

test("strategy error refuses with REFUSED before any tensor is yielded", conformance, async () => {
  const tensors = convertTensors(fixture("gen/all-types.gguf").path, {
    onWarning: silent,
    policy: { types: { Q6_K: "error" } },
  });
  await assert.rejects(
    tensors.next(),
    (e: unknown) => e instanceof GgufError && e.code === "REFUSED",
  );
});

test(
  "unsupported: error refuses uncovered types, dequantize without a kernel is refused",
  conformance,
  async () => {
    const path = fixture("gen/all-types.gguf").path;
    await assert.rejects(
      convertGguf(path, { policy: { unsupported: "error" } }),
      (e: unknown) => e instanceof GgufError && e.code === "UNSUPPORTED_TYPE",
    );
    await assert.rejects(
      convertGguf(path, { onWarning: silent, policy: { types: { TQ1_0: "dequantize" } } }),
      (e: unknown) => e instanceof GgufError && e.code === "UNSUPPORTED_TYPE",
    );
  },
);

test("views are zero-copy on mmap; F32 is a view only when aligned", conformance, async () => {
  const f = fixture("gen/legacy.gguf");
  const mapped = await convertGguf(f.path, { access: "mmap", onWarning: silent });
  for (const tensor of mapped.tensors.values()) {
    assert.equal(tensor.zeroCopy, tensor.kind !== "float32" || tensor.strategy === "passthrough");
  }
  const read = await convertGguf(f.path, { access: "read", onWarning: silent });
  for (const tensor of read.tensors.values()) assert.equal(tensor.zeroCopy, false);
  const bytes = fixtureBytes(f);
  const shifted = new Uint8Array(bytes.length + 1);
  shifted.set(bytes, 1);
  const misaligned = await convertGguf(shifted.subarray(1), { onWarning: silent });
  for (const tensor of misaligned.tensors.values()) {
    if (tensor.kind === "float32" && tensor.strategy === "passthrough") {
      assert.equal(tensor.zeroCopy, false);
    }
    if (tensor.kind === "packed") assert.equal(tensor.zeroCopy, true);
  }
});

test("dequantizeRows() equals the same rows of a full dequantization", conformance, async () => {
  const model = await convertGguf(fixture("gen/all-types.gguf").path, { onWarning: silent });
  const embeddings = model.tensors.get("token_embd.weight")!;
  assert.equal(embeddings.kind, "packed");
  const full = dequantize(embeddings.type, embeddings.data);
  const rowLength = embeddings.shape[0];
  const rows = dequantizeRows(embeddings, 3, 2);
  assert.deepEqual(rows, full.subarray(3 * rowLength, 5 * rowLength));
  assert.throws(() => dequantizeRows(embeddings, embeddings.shape[1], 1), TypeError);
});

test("small chunks give the same values as one pass", conformance, async () => {
  const f = fixture("gen/kquants.gguf");
  const whole = await convertGguf(f.path, { access: "read" });
  const chunked = await convertGguf(f.path, { access: "read", chunkBytes: 300 });
  for (const [name, tensor] of whole.tensors) {
    assert.deepEqual(chunked.tensors.get(name)!.data, tensor.data);
  }
});
