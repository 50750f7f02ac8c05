import assert from "node:assert/strict";
import { test } from "node:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ConversionSummary,
  conversionWarnings,
  type ConvertedModel,
  convertFile,
  convertGguf,
  convertStream,
  dequantize,
  GGML_TYPES,
  GgmlType,
  planConversion,
  quantize,
  readGguf,
} from "../mod.ts";
import { policyFromFlags } from "../src/cli/policy_from_flags.ts";
import { main } from "../convert.ts";
import { canStartWorkers } from "../src/runtime/current.ts";
import { convertTensorChunks } from "../src/convert/tensor_chunks.ts";
import { ConvertThreads } from "../src/convert/convert_threads.ts";
import { openGgufModel } from "../sources.ts";
import { quantizableTypes, registerTranscoder, transcoderOf } from "../kernels.ts";
import { encodeGgufHeader, resolvePolicy } from "../pipeline.ts";
import { conformance, type ExpectedTensor, fixture, fixtureBytes } from "./_fixtures.ts";
import { sha256 } from "./_hash.ts";

const silent = () => {};
/** The oracle's requantization digests, for every type (see `shared/fixtures/README.md`). */
type RequantTensor = ExpectedTensor & { requant_sha256?: Record<string, string> };
/** Every type, so that reading a converted file back keeps each tensor's bytes. */
const ALL_TYPES = GGML_TYPES.map((t) => t.name);
/** Checked against the oracle through memory: 32- and 256-value rows, every source type. */
const FIXTURES = ["gen/kquants.gguf", "gen/legacy.gguf", "gen/all-types.gguf"];
/** Also written through the file and stream paths (small, so every type stays fast). */
const PATH_FIXTURES = ["gen/legacy.gguf", "gen/all-types.gguf"];
/** Types standing for each block size (1, 32, 256) where a test need not try all. */
const SAMPLE_TYPES = ["Q4_0", "Q8_0", "Q4_K", "IQ4_XS", "F16"];

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
    // Digests, not the bytes: a failing deepEqual of large arrays takes minutes to print.
    assert.equal(sha256(got.data), sha256(quantize(got.typeName, values)), where);
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
          if (!PATH_FIXTURES.includes(id)) continue;
          const out = join(dir, `${type}.gguf`);
          await convertFile(f.path, out, { ...options, force: true });
          const file = new Uint8Array(readFileSync(out));
          const streamed = await collect(convertStream(streamOf(bytes), options));
          assert.equal(sha256(streamed), sha256(file), `${id} -> ${type}: stream and file differ`);
          const back = await readBack(file);
          for (const [name, tensor] of memory.tensors) {
            assert.equal(
              sha256(back.tensors.get(name)!.data),
              sha256(tensor.data),
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
          assert.equal(sha256(into), sha256(one.tensors.get(entry.info.name)!.data), where);
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
    const file = await readGguf(path);
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
    // Q2_K and Q3_K go to Q4_0 (llama.cpp's tensor_type_fallback), IQ4_XS to IQ4_NL.
    for (const [asked, fallback] of [["Q2_K", "Q4_0"], ["Q3_K", "Q4_0"], ["IQ4_XS", "IQ4_NL"]]) {
      if (!available.has(asked as "Q2_K")) continue;
      const target = [asked, "Q4_0", "IQ4_NL", "F32"];
      const other = planConversion(file, { target, requantize: asked as "Q2_K" })
        .find((p) => p.info.name === "blk.1.attn_v.weight")!;
      assert.equal(other.typeName, fallback, asked);
      assert.match(other.reason, new RegExp(`not whole ${asked} blocks: ${fallback}`));
    }
  })();
});

test("the warning for F32 outside the target says why the tensors are F32", async () => {
  const file = await readGguf(new URL("../samples/tiny-llama.gguf", import.meta.url));
  const target = ["Q8_0", "F16"];
  const [unasked] = conversionWarnings(planConversion(file, { target }), { target });
  assert.match(unasked, /^21 tensors written as F32, .*\(nothing is requantized: /);
  // Requantized, every tensor of the sample is written in the target: nothing to warn of.
  const policy = { target, requantize: "Q8_0" as const };
  assert.deepEqual(conversionWarnings(planConversion(file, policy), policy), []);
});

/**
 * A test-only transcoder, Q4_0 → Q8_0: the same scale, each 4-bit code minus 8 as an 8-bit
 * one (lossless). Registered only where the build has none of its own.
 */
function transcodeQ4_0ToQ8_0(src: Uint8Array, dst: Uint8Array, blocks: number): void {
  for (let b = 0; b < blocks; b++) {
    const i = b * 18;
    const o = b * 34;
    dst[o] = src[i];
    dst[o + 1] = src[i + 1];
    for (let j = 0; j < 16; j++) {
      const byte = src[i + 2 + j];
      dst[o + 2 + j] = ((byte & 15) - 8) & 255;
      dst[o + 18 + j] = ((byte >> 4) - 8) & 255;
    }
  }
}
if (transcoderOf(GgmlType.Q4_0, GgmlType.Q8_0) === undefined) {
  registerTranscoder({
    from: GgmlType.Q4_0,
    to: GgmlType.Q8_0,
    kernel: transcodeQ4_0ToQ8_0,
    lossless: true,
  });
}

test(
  "method best transcodes where a transcoder exists; reference requantizes as ggml does",
  conformance,
  async () => {
    const id = "gen/legacy.gguf";
    const f = fixture(id);
    const source = fixtureBytes(f);
    const target = ["Q8_0", "F32"];
    const best = await convertGguf(f.path, { policy: { target, requantize: "Q8_0" } });
    const reference = await convertGguf(f.path, {
      policy: { target, requantize: "Q8_0", method: "reference" },
    });
    const plan = planConversion(await readGguf(f.path), { target, requantize: "Q8_0" });
    let transcoded = 0;
    for (const want of f.expected.tensors as RequantTensor[]) {
      const a = best.tensors.get(want.name)!;
      const b = reference.tensors.get(want.name)!;
      const entry = plan.find((p) => p.info.name === want.name)!;
      assert.equal(entry.action, a.action, want.name);
      const transcoder = transcoderOf(GgmlType[want.type as "Q4_0"], GgmlType.Q8_0);
      if (a.action !== "transcode") {
        // No transcoder from this type: the same bytes either way.
        assert.equal(transcoder, undefined, want.name);
        assert.equal(sha256(a.data), sha256(b.data), want.name);
        continue;
      }
      assert.ok(transcoder !== undefined && a.typeName === "Q8_0", want.name);
      assert.equal(b.action, "requantize", want.name);
      // The reference method writes ggml's bytes...
      assert.equal(sha256(b.data), want.requant_sha256!.Q8_0, want.name);
      // ...and a lossless transcoder gives back the source's values exactly.
      if (!transcoder!.lossless) continue;
      const start = f.expected.data_offset + want.offset;
      const x = dequantize(want.type, source.subarray(start, start + want.nbytes));
      assert.equal(sha256(dequantize("Q8_0", bytesOf(a.data))), sha256(x), want.name);
      assert.notEqual(sha256(a.data), sha256(b.data), want.name);
      transcoded++;
    }
    assert.ok(transcoded >= 3, `only ${transcoded} tensors transcoded`);
    // Lossless transcoding adds no error; the other Q8_0 requantized tensors do.
    assert.ok(best.summary.relativeError < reference.summary.relativeError);
  },
);

/**
 * The summary's error computed directly from a converted model and the source: over every
 * converted value, and the converted tensor with the largest error of its own.
 */
function directError(
  id: string,
  model: ConvertedModel,
): { total: number; largest?: { tensor: string; relativeError: number } } {
  const f = fixture(id);
  const source = fixtureBytes(f);
  const rms = (e: number, r: number) =>
    e === 0 ? 0 : e < Infinity && r > 0 ? Math.sqrt(e / r) : Infinity;
  let error = 0;
  let reference = 0;
  let largest: { tensor: string; relativeError: number } | undefined;
  for (const want of f.expected.tensors) {
    const got = model.tensors.get(want.name)!;
    if (got.action === "keep") continue;
    const start = f.expected.data_offset + want.offset;
    const x = dequantize(want.type, source.subarray(start, start + want.nbytes));
    const out = got.data instanceof Float32Array ? got.data : dequantize(got.typeName, got.data);
    let tensorError = 0;
    let tensorReference = 0;
    for (let i = 0; i < x.length; i++) {
      if (!Number.isFinite(x[i])) continue;
      tensorError += (out[i] - x[i]) ** 2;
      tensorReference += x[i] ** 2;
    }
    error += tensorError;
    reference += tensorReference;
    const own = rms(tensorError, tensorReference);
    if (largest === undefined || own > largest.relativeError) {
      largest = { tensor: want.name, relativeError: own };
    }
  }
  // An output value that is NaN or infinite where the source's is finite: unbounded.
  return { total: rms(error, reference), largest };
}

test(
  "the summary gives bits per weight and the relative error measured on the output, on every path",
  conformance,
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "gguf-stream-summary-"));
    try {
      for (const id of FIXTURES) {
        const f = fixture(id);
        for (const type of quantizableTypes().filter((t) => SAMPLE_TYPES.includes(t))) {
          const policy = { target: [type, "F32"], requantize: type as "Q8_0" };
          const memory = await convertGguf(f.path, { policy, onWarning: silent });
          const direct = directError(id, memory);
          // A block holding NaN or Inf in the source may quantize to NaN, a value past F16's
          // range to Inf: the error is then unbounded, Infinity (never NaN).
          const near = (got: number, want: number, what: string) =>
            assert.ok(
              Number.isFinite(want) ? Math.abs(got - want) <= 1e-9 * want : Object.is(got, want),
              `${id} -> ${type} ${what}: ${got} vs ${want}`,
            );
          // The same tensor with the largest error of its own, and that error.
          // (A plan that changes no value is not measured: no tensor is named.)
          const close = (summary: ConversionSummary, what: string) => {
            near(summary.relativeError, direct.total, what);
            if (summary.largestError === undefined && direct.total === 0) return;
            assert.equal(summary.largestError?.tensor, direct.largest?.tensor, what);
            near(summary.largestError!.relativeError, direct.largest!.relativeError, what);
          };
          close(memory.summary, "memory");
          const file = await convertFile(f.path, join(dir, "out.gguf"), {
            policy,
            force: true,
            onWarning: silent,
          });
          close(file.summary, "file");
          let streamed: ConversionSummary | undefined;
          await collect(convertStream(streamOf(fixtureBytes(f)), {
            policy,
            onWarning: silent,
            onSummary: (s) => (streamed = s),
          }));
          close(streamed!, "stream");
          const weights = f.expected.tensors.reduce(
            (n, t) => n + t.shape.reduce((a, b) => a * b, 1),
            0,
          );
          const inBytes = f.expected.tensors.reduce((n, t) => n + t.nbytes, 0);
          assert.equal(memory.summary.weights, weights);
          assert.equal(memory.summary.bitsPerWeightIn, (inBytes * 8) / weights);
          const outBytes = file.plan.reduce((n, p) => n + p.nbytes, 0);
          assert.equal(file.summary.bitsPerWeightOut, (outBytes * 8) / weights);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test("profiles set the target and auto; --for help lists them", async () => {
  assert.deepEqual([...resolvePolicy({ profile: "q4q8" }).target], ["Q4_0", "Q8_0", "F32"]);
  assert.equal(resolvePolicy({ profile: "mistral.rs" }).requantize, "auto");
  assert.equal(resolvePolicy({ profile: "mlx", requantize: "Q8_0" }).requantize, "Q8_0");
  assert.deepEqual(
    [...resolvePolicy({ profile: "candle" }).target].sort(),
    [
      "BF16",
      "F16",
      "F32",
      "Q2_K",
      "Q3_K",
      "Q4_0",
      "Q4_1",
      "Q4_K",
      "Q5_0",
      "Q5_1",
      "Q5_K",
      "Q6_K",
      "Q8_0",
      "Q8_1",
      "Q8_K",
    ].sort(),
  );
  assert.throws(() => resolvePolicy({ profile: "mlx", target: ["F32"] }), TypeError);
  assert.throws(() => resolvePolicy({ profile: "onnx" }), TypeError);
  assert.throws(() => policyFromFlags({ for: "mlx", target: "F32" }), TypeError);
  assert.throws(() => policyFromFlags({ for: "q4q8", requantize: "Q4_1" }), TypeError);
  let out = "";
  const io = { stdout: (t: string) => (out += t), stderr: () => {} };
  assert.equal(await main(["x.gguf", "--for", "help"], io), 0);
  for (const name of ["candle", "mistral.rs", "mlx", "llama.cpp", "q4q8"]) {
    assert.ok(out.includes(name), name);
  }
  const listed = out;
  out = "";
  assert.equal(await main(["--for", "help"], io), 0, "no model needed");
  assert.equal(out, listed);
  out = "";
  assert.equal(await main(["samples/tiny-llama.gguf", "--for", "q4q8", "--json"], io), 0);
  const plan = JSON.parse(out);
  for (const t of plan.tensors) assert.ok(["Q4_0", "Q8_0", "F32"].includes(t.output_type));
  assert.ok(plan.tensors.some((t: { error?: number }) => typeof t.error === "number"));
  assert.equal(typeof plan.totals.bits_per_weight_out, "number");
});

test("-o OUT --json prints the summary the library gives", async () => {
  const dir = mkdtempSync(join(tmpdir(), "gguf-stream-summary-cli-"));
  try {
    let out = "";
    const io = { stdout: (t: string) => (out += t), stderr: () => {} };
    const input = "samples/tiny-llama.gguf";
    const args = [input, "-o", join(dir, "out.gguf"), "--requantize", "Q4_0", "--json", "-q"];
    assert.equal(await main(args, io), 0);
    const json = JSON.parse(out);
    const { summary } = await convertGguf(input, { policy: { requantize: "Q4_0" } });
    assert.equal(json.relative_error, summary.relativeError);
    assert.equal(json.bits_per_weight_in, summary.bitsPerWeightIn);
    assert.equal(json.bits_per_weight_out, summary.bitsPerWeightOut);
    assert.ok(summary.relativeError > 0.01 && summary.relativeError < 0.2);
    assert.deepEqual(json.largest_tensor_error, {
      tensor: summary.largestError!.tensor,
      relative_error: summary.largestError!.relativeError,
    });
    assert.ok(summary.largestError!.relativeError >= summary.relativeError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
test("the summary never says NaN: an unbounded error, and nothing converted, say so", async () => {
  const dir = mkdtempSync(join(tmpdir(), "gguf-stream-unbounded-"));
  try {
    // One F32 tensor of 32 values up to 2.8e7: a Q8_0 block's scale (amax / 127) is past
    // float16's largest, 65504, so ggml's blocks decode to infinities and NaN.
    const header = encodeGgufHeader({
      alignment: 32,
      metadata: [{ key: "general.architecture", type: 8, value: "llama" }],
      tensors: [{ name: "a", shape: [32], type: GgmlType.F32, nbytes: 128 }],
    });
    const file = new Uint8Array(header.fileSize);
    file.set(header.bytes);
    new Float32Array(file.buffer, header.dataOffset, 32).set(
      Array.from({ length: 32 }, (_, i) => (i - 3) * 1e6),
    );
    const input = join(dir, "huge.gguf");
    writeFileSync(input, file);
    const policy = { target: ["Q8_0"], requantize: "Q8_0" as const };
    const { summary } = await convertGguf(input, { policy, onWarning: silent });
    assert.equal(summary.relativeError, Infinity);
    let stderr = "";
    const io = { stdout: () => {}, stderr: (t: string) => (stderr += t) };
    const out = join(dir, "out.gguf");
    assert.equal(await main([input, "-o", out, "--target", "Q8_0", "--requantize", "Q8_0"], io), 0);
    assert.match(
      stderr,
      /\n32\.00 -> 8\.50 bits per weight; relative error unbounded: the output holds NaN or infinite values where the input's are finite \(values past what the output type can hold; over the 32 converted weights; the first such tensor is "a"\)\n$/,
    );
    // Every tensor kept: there is no error to give.
    stderr = "";
    assert.equal(await main([input, "-o", out, "--force"], io), 0);
    assert.match(
      stderr,
      /\n32\.00 -> 32\.00 bits per weight; no weights converted \(every tensor kept\)\n$/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
