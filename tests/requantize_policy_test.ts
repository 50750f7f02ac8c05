import assert from "node:assert/strict";
import { test } from "node:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ConvertedModel,
  convertFile,
  convertGguf,
  convertStream,
  dequantize,
  GGML_TYPES,
  planConversion,
  quantize,
} from "../mod.ts";
import {
  canStartWorkers,
  convertTensorChunks,
  ConvertThreads,
  openGgufModel,
  quantizableTypes,
} from "../advanced.ts";
import { conformance, type ExpectedTensor, fixture, fixtureBytes } from "./_fixtures.ts";
import { sha256 } from "./_hash.ts";

const silent = () => {};
/** The oracle's requantization digests, for every type (see `shared/fixtures/README.md`). */
type RequantTensor = ExpectedTensor & { requant_sha256?: Record<string, string> };
/** Every type, so that reading a converted file back keeps each tensor's bytes. */
const ALL_TYPES = GGML_TYPES.map((t) => t.name);
const FIXTURES = ["gen/kquants.gguf", "gen/legacy.gguf"];

function streamOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at += 65536));
    },
  });
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** A converted GGUF file read back with every tensor kept as written. */
function readBack(bytes: Uint8Array): Promise<ConvertedModel> {
  return convertGguf(bytes, { policy: { target: ALL_TYPES } });
}

/** The bytes of a converted tensor. */
function bytesOf(data: Uint8Array | Float32Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Checks a requantized model against the fixture: every tensor converted into a quantized
 * type equals ggml's digest for it (where the fixture has one) and `quantize()` of the
 * source's float32 values.
 */
function checkRequantized(
  id: string,
  model: ConvertedModel,
  type: string,
  source: Uint8Array,
): number {
  const { expected } = fixture(id);
  let checked = 0;
  for (const want of expected.tensors as RequantTensor[]) {
    const got = model.tensors.get(want.name)!;
    const where = `${id} ${want.name} (${want.type} -> ${got.typeName}, asked ${type})`;
    if (got.action === "keep") {
      assert.equal(got.typeName, want.type, where);
      continue;
    }
    if (got.typeName === "F32") continue;
    const start = expected.data_offset + want.offset;
    const values = dequantize(want.type, source.subarray(start, start + want.nbytes));
    assert.deepEqual(bytesOf(got.data), quantize(got.typeName, values), where);
    const digest = want.requant_sha256?.[got.typeName];
    if (digest !== undefined) assert.equal(sha256(got.data), digest, where);
    checked++;
  }
  return checked;
}

test(
  "requantizing into every quantizable type equals ggml through memory, file and stream",
  conformance,
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "gguf-stream-requant-"));
    try {
      let checked = 0;
      for (const type of quantizableTypes()) {
        for (const id of FIXTURES) {
          const f = fixture(id);
          const bytes = fixtureBytes(f);
          const options = {
            policy: { target: [type, "F32"], requantize: type as "Q8_0", method: "reference" },
            threads: 1,
            onWarning: silent,
          } as const;
          const memory = await convertGguf(f.path, options);
          checked += checkRequantized(id, memory, type, bytes);
          const out = join(dir, `${type}.gguf`);
          await convertFile(f.path, out, { ...options, force: true });
          const file = new Uint8Array(readFileSync(out));
          const streamed = await collect(convertStream(streamOf(bytes), options));
          assert.deepEqual(streamed, file, `${id} -> ${type}: stream and file differ`);
          const back = await readBack(file);
          for (const [name, tensor] of memory.tensors) {
            assert.deepEqual(
              bytesOf(back.tensors.get(name)!.data),
              bytesOf(tensor.data),
              `${id} ${name} -> ${type}: file and memory differ`,
            );
          }
        }
      }
      assert.ok(checked > 20, `only ${checked} tensors checked`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  "two threads requantize every quantizable type to the same bytes as one",
  { skip: conformance.skip || (canStartWorkers() ? false : "no worker threads here") },
  async () => {
    const { path } = fixture("gen/kquants.gguf");
    const model = await openGgufModel(path);
    // One pool for every type: its worker starts once.
    const threads = new ConvertThreads(2);
    let split = 0;
    try {
      for (const type of quantizableTypes()) {
        const policy = {
          target: [type, "F32"],
          requantize: type as "Q8_0",
          method: "reference",
        } as const;
        const one = await convertGguf(path, { policy, threads: 1 });
        for (const entry of planConversion(model, policy)) {
          if (entry.action !== "requantize") continue;
          const into = new Uint8Array(new SharedArrayBuffer(entry.nbytes));
          const chunks = convertTensorChunks(model.parts[0].source, true, entry, {
            chunkBytes: 1 << 20,
            scratch: {},
            into,
            threads,
          });
          for await (const _ of chunks) { /* written in place */ }
          const where = `${entry.info.name} -> ${entry.typeName}`;
          assert.deepEqual(into, bytesOf(one.tensors.get(entry.info.name)!.data), where);
          if (entry.info.elements >= 1 << 15) split++;
        }
      }
    } finally {
      threads.close();
      await model.close();
    }
    assert.ok(split > 0, "no tensor was large enough to be split");
  },
);

test("a tensor whose rows a type cannot hold falls back as llama.cpp does, shown in the plan", () => {
  const { path } = fixture("gen/legacy.gguf");
  return (async () => {
    const file = await (await import("../mod.ts")).readGguf(path);
    // Rows of 608 are whole 32-value blocks, not 256-value ones.
    const available = new Set(quantizableTypes());
    if (!available.has("Q4_K") || !available.has("Q5_0")) {
      // Without K quantizers in this build, Q8_0 rows of 100 values show the F32 rule.
      const plan = planConversion(file, { target: ["Q8_0", "F32"], requantize: "Q8_0" });
      for (const entry of plan) {
        if (entry.info.shape[0] % 32 !== 0 && entry.action !== "keep") {
          assert.equal(entry.typeName, "F32");
          assert.match(entry.reason, /not whole Q8_0 blocks: F32/);
        }
      }
      return;
    }
    const plan = planConversion(file, { target: ["Q4_K", "Q5_0", "F32"], requantize: "Q4_K" });
    const entry = plan.find((p) => p.info.name === "blk.1.attn_v.weight")!; // Q4_1, rows of 1888
    assert.equal(entry.typeName, "Q5_0");
    assert.match(entry.reason, /not whole Q4_K blocks: Q5_0/);
  })();
});
