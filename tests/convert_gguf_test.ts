import assert from "node:assert/strict";
import { test } from "node:test";
import {
  convertGguf,
  convertTensors,
  dequantize,
  dequantizeRows,
  GGML_TYPES,
  GgufError,
  type TensorAction,
} from "../mod.ts";
import { dequantizerOf } from "../kernels.ts";
import { conformance, fixture, fixtureBytes, listFixtures, STRICT_REFUSALS } from "./_fixtures.ts";
import { sha256 } from "./_hash.ts";
import { MMAP_MISSING, SOURCE_KINDS } from "./_sources.ts";

const fixtures = listFixtures();
const silent = () => {};

/** A policy that dequantizes every type gguf-stream has a kernel for. */
const ALL_FLOAT: Record<string, TensorAction> = Object.fromEntries(
  GGML_TYPES.filter((t) => dequantizerOf(t) !== undefined).map((t) => [t.name, "dequantize"]),
);

for (const kind of SOURCE_KINDS) {
  test(
    `convertGguf() is bit-exact with ggml for every fixture through ${kind.name}`,
    { skip: conformance.skip || kind.skip },
    async () => {
      let checked = 0;
      let requantized = 0;
      const unchecked = new Set<string>();
      for (const f of fixtures) {
        if (/-\d{5}-of-\d{5}\.gguf$/.test(f.id)) {
          // A source has no name to find the other parts by: one part alone is refused.
          const source = await kind.open(f.path);
          try {
            await assert.rejects(
              convertGguf(source, { onWarning: silent }),
              (e: unknown) => e instanceof GgufError && e.code === "BAD_METADATA",
              f.id,
            );
          } finally {
            await source.close();
          }
          continue;
        }
        const bytes = fixtureBytes(f);
        for (
          const policy of [
            {},
            { types: ALL_FLOAT },
            // ggml's quantizers (the oracle's bytes), not the transcoders `best` may use.
            { requantize: "Q8_0" as const, method: "reference" as const },
            { target: ["Q4_0", "F32"], requantize: "Q4_0" as const, method: "reference" as const },
          ]
        ) {
          const source = await kind.open(f.path);
          try {
            const lenient = STRICT_REFUSALS[f.id] !== undefined;
            const model = await convertGguf(source, { lenient, policy, onWarning: silent });
            const expected = f.expected.tensors;
            assert.equal(model.tensors.size, expected.length);
            for (const [i, tensor] of [...model.tensors.values()].entries()) {
              const want = expected[i];
              assert.equal(tensor.name, want.name);
              assert.deepEqual(tensor.shape, want.shape);
              assert.deepEqual(tensor.rowMajorShape, want.shape.slice().reverse());
              if (policy.types === ALL_FLOAT && want.f32_sha256 !== null) {
                // Every type with a float32 form in the fixtures must have a kernel.
                if (tensor.typeName !== "F32") unchecked.add(want.type);
              }
              if (tensor.typeName === "F32" && want.f32_sha256 !== null) {
                assert.equal(
                  sha256(tensor.data),
                  want.f32_sha256,
                  `${f.id} ${tensor.name} (${tensor.info.typeName})`,
                );
                checked++;
              } else if (tensor.action === "requantize") {
                // Files only gguf-py could read carry no requantization oracle.
                if (want.requant_sha256 !== undefined) {
                  assert.equal(
                    sha256(tensor.data),
                    want.requant_sha256[tensor.typeName as "Q8_0" | "Q4_0"],
                    `${f.id} ${tensor.name} (${tensor.info.typeName} -> ${tensor.typeName})`,
                  );
                  requantized++;
                }
              } else if (tensor.typeName !== "F32") {
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
      assert.deepEqual([...unchecked], [], "fixture types with a float32 form but no kernel");
      assert.ok(checked > 300, `only ${checked} float32 tensors checked`);
      // The split parts, refused above, held copies of gen/ tensors: they counted twice before.
      assert.ok(requantized > 150, `only ${requantized} requantized tensors checked`);
    },
  );
}

test(
  "the default target keeps Q4_0, Q8_0 and F32 and converts every other type with a kernel to F32",
  conformance,
  async () => {
    const model = await convertGguf(fixture("gen/all-types.gguf").path, { onWarning: silent });
    for (const tensor of model.tensors.values()) {
      const source = tensor.info.typeName;
      if (["Q4_0", "Q8_0", "F32"].includes(source)) {
        assert.equal(tensor.action, "keep", tensor.name);
        assert.equal(tensor.typeName, source);
      } else {
        assert.equal(tensor.action, "dequantize", tensor.name);
        assert.equal(tensor.typeName, "F32");
      }
      assert.equal(tensor.data instanceof Float32Array, tensor.typeName === "F32");
    }
  },
);

test("types with no kernel are kept with one warning per type", conformance, async () => {
  const warnings: string[] = [];
  const model = await convertGguf(fixture("gen/inttypes.gguf").path, {
    onWarning: (m) => warnings.push(m),
  });
  const types = warnings.map((w) => w.match(/kept as (\S+),/)![1]);
  assert.deepEqual(types.slice().sort(), ["F64", "I16", "I32", "I64", "I8"]);
  for (const tensor of model.tensors.values()) assert.equal(tensor.typeName, tensor.info.typeName);
  const quiet: string[] = [];
  await convertGguf(fixture("gen/all-types.gguf").path, { onWarning: (m) => quiet.push(m) });
  assert.deepEqual(quiet, []);
});

test("per-type and per-tensor overrides change the action", conformance, async () => {
  const path = fixture("gen/all-types.gguf").path;
  const model = await convertGguf(path, {
    onWarning: silent,
    policy: {
      types: { q4_k: "keep", Q8_0: "dequantize", Q6_K: "requantize" },
      requantize: "Q4_0",
      tensor: (t) => (t.name === "token_embd.weight" ? "dequantize" : undefined),
    },
  });
  for (const tensor of model.tensors.values()) {
    const source = tensor.info.typeName;
    if (tensor.name === "token_embd.weight") assert.equal(tensor.typeName, "F32");
    else if (source === "Q4_K") assert.equal(tensor.typeName, "Q4_K");
    else if (source === "Q8_0") assert.equal(tensor.typeName, "F32");
    else if (source === "Q6_K" && tensor.shape[0] % 32 === 0) {
      assert.equal(tensor.typeName, "Q4_0");
    } else if (source === "F16") {
      assert.equal(tensor.typeName, tensor.shape[0] % 32 ? "F32" : "Q4_0");
    }
  }
});

test(
  "requantizing keeps F32 for rows that are not whole blocks, and says why",
  conformance,
  async () => {
    const model = await convertGguf(fixture("gen/all-types.gguf").path, {
      onWarning: silent,
      policy: { requantize: "Q8_0" },
    });
    let odd = 0;
    for (const tensor of model.tensors.values()) {
      if (["F32", "Q8_0", "Q4_0"].includes(tensor.info.typeName)) continue;
      if (tensor.shape[0] % 32 !== 0) {
        odd++;
        assert.equal(tensor.typeName, "F32", tensor.name);
      } else assert.equal(tensor.typeName, "Q8_0", tensor.name);
    }
    assert.ok(odd > 0);
  },
);

test("action refuse refuses with REFUSED before any tensor is yielded", conformance, async () => {
  const tensors = convertTensors(fixture("gen/all-types.gguf").path, {
    onWarning: silent,
    policy: { types: { Q6_K: "refuse" } },
  });
  await assert.rejects(
    tensors.next(),
    (e: unknown) => e instanceof GgufError && e.code === "REFUSED",
  );
});

test(
  "unsupported: error refuses types with no kernel; converting one is refused",
  conformance,
  async () => {
    const path = fixture("gen/inttypes.gguf").path;
    await assert.rejects(
      convertGguf(path, { policy: { unsupported: "error" } }),
      (e: unknown) => e instanceof GgufError && e.code === "UNSUPPORTED_TYPE",
    );
    await assert.rejects(
      convertGguf(path, { onWarning: silent, policy: { types: { I32: "dequantize" } } }),
      (e: unknown) => e instanceof GgufError && e.code === "UNSUPPORTED_TYPE",
    );
  },
);

test("a bad policy is the caller's TypeError", async () => {
  const sample = new URL("../samples/tiny-llama.gguf", import.meta.url);
  for (
    const policy of [
      { target: ["Q9_9"] },
      { requantize: "Q5_0" },
      { target: ["F32"], requantize: "Q8_0" },
      { types: { Q4_K: "view" } },
    ]
  ) {
    await assert.rejects(convertGguf(sample, { policy: policy as never }), TypeError);
  }
});

test("views are zero-copy on mmap", { skip: conformance.skip || MMAP_MISSING }, async () => {
  const f = fixture("gen/legacy.gguf");
  const mapped = await convertGguf(f.path, { access: "mmap", onWarning: silent });
  for (const tensor of mapped.tensors.values()) {
    assert.equal(tensor.zeroCopy, tensor.action === "keep");
  }
});

test("reads never share memory; F32 bytes are a view only when aligned", conformance, async () => {
  const f = fixture("gen/legacy.gguf");
  const read = await convertGguf(f.path, { access: "read", onWarning: silent });
  for (const tensor of read.tensors.values()) assert.equal(tensor.zeroCopy, false);
  const bytes = fixtureBytes(f);
  const shifted = new Uint8Array(bytes.length + 1);
  shifted.set(bytes, 1);
  const misaligned = await convertGguf(shifted.subarray(1), { onWarning: silent });
  for (const tensor of misaligned.tensors.values()) {
    if (tensor.typeName === "F32" && tensor.action === "keep") {
      assert.equal(tensor.zeroCopy, false);
    }
    if (tensor.typeName !== "F32") assert.equal(tensor.zeroCopy, true);
  }
});

test("dequantizeRows() equals the same rows of a full dequantization", conformance, async () => {
  const model = await convertGguf(fixture("gen/all-types.gguf").path, { onWarning: silent });
  const embeddings = model.tensors.get("token_embd.weight")!;
  assert.equal(embeddings.typeName, "Q4_0");
  const full = dequantize(embeddings.type, embeddings.data as Uint8Array);
  const rowLength = embeddings.shape[0];
  const rows = dequantizeRows(embeddings, 3, 2);
  assert.deepEqual(rows, full.subarray(3 * rowLength, 5 * rowLength));
  assert.throws(() => dequantizeRows(embeddings, embeddings.shape[1], 1), TypeError);
});

test("small chunks give the same values as one pass", conformance, async () => {
  const f = fixture("gen/kquants.gguf");
  for (const policy of [{}, { requantize: "Q4_0" as const }]) {
    const whole = await convertGguf(f.path, { access: "read", policy });
    const chunked = await convertGguf(f.path, { access: "read", chunkBytes: 300, policy });
    for (const [name, tensor] of whole.tensors) {
      assert.deepEqual(chunked.tensors.get(name)!.data, tensor.data);
    }
  }
});

test(
  "dequantizeRows() of every kernel type equals its whole-tensor values",
  conformance,
  async () => {
    for (const id of ["gen/all-types.gguf", "gen/iq-imatrix.gguf", "gen/newtypes.gguf"]) {
      const kept = await convertGguf(fixture(id).path, {
        onWarning: silent,
        policy: { target: GGML_TYPES.map((t) => t.name) },
      });
      const floats = await convertGguf(fixture(id).path, {
        onWarning: silent,
        policy: { types: ALL_FLOAT },
      });
      for (const [name, tensor] of kept.tensors) {
        const traits = GGML_TYPES.find((t) => t.id === tensor.type)!;
        if (tensor.shape[0] % traits.blockSize !== 0) continue;
        const rows = tensor.info.elements / tensor.shape[0];
        const last = dequantizeRows(tensor, rows - 1, 1);
        const whole = floats.tensors.get(name)!.data as Float32Array;
        assert.deepEqual(last, whole.subarray((rows - 1) * tensor.shape[0]), `${id} ${name}`);
      }
    }
  },
);
