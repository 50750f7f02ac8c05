import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { type ConversionPolicy, convertFile, GgufError, readGguf } from "../mod.ts";
import { type ByteSink, openGgufModel } from "../sources.ts";
import { writeConvertedModel } from "../pipeline.ts";
import { ggufToJson } from "../src/cli/gguf_json.ts";
import { main } from "../convert.ts";
import { assertEntryMatches, withFloat64Digits } from "./_compare.ts";
import {
  conformance,
  type ExpectedTensor,
  fixture,
  listFixtures,
  requantOracle,
  STRICT_REFUSALS,
} from "./_fixtures.ts";
import { sha256 } from "./_hash.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const silent = () => {};

function scratchDir(): string {
  return mkdtempSync(join(tmpdir(), "gguf-stream-test-"));
}

/** Every fixture a conversion can start from: whole files and the first part of each split. */
function convertible() {
  return listFixtures().filter((f) => !/-0000[2-9]-of-/.test(f.id));
}

/** The expected tensors and metadata of a fixture as one model (merged for splits). */
function expectedModel(f: ReturnType<typeof listFixtures>[number]) {
  const merged = f.path.match(/^(.*)-00001-of-\d{5}\.gguf$/);
  if (merged === null) return { tensors: f.expected.tensors, metadata: f.expected.metadata };
  const base = merged[1].replace(/.*\//, "");
  const json = JSON.parse(
    readFileSync(join(dirname(f.path), `${base}.merged.expected.json`), "utf8"),
  );
  return { tensors: json.tensors as ExpectedTensor[], metadata: json.metadata };
}

/** The policies every fixture is converted under. */
const POLICIES: [string, ConversionPolicy][] = [
  ["default target", {}],
  // ggml's quantizers (the oracle's bytes), not the transcoders `best` may use.
  ["requantize Q8_0", { requantize: "Q8_0", method: "reference" }],
  [
    "target Q4_0,F32 requantize Q4_0",
    { target: ["Q4_0", "F32"], requantize: "Q4_0", method: "reference" },
  ],
];

for (const [label, policy] of POLICIES) {
  test(
    `convertFile() under ${label} reads back: converted tensors bit-exact with ggml, kept ones byte for byte, metadata kept`,
    conformance,
    () => checkFileConversions(policy),
  );
}

/** The `general.file_type` a converted file must have (llama_ftype of the output). */
function expectedFileType(types: string[], elements: number[]): number {
  const weights = new Map<string, number>();
  types.forEach((t, i) => t !== "F32" && weights.set(t, (weights.get(t) ?? 0) + elements[i]));
  if (weights.size === 0) return 0;
  const most = [...weights].sort((a, b) => b[1] - a[1])[0][0];
  return ({ Q8_0: 7, Q4_0: 2, F16: 1, BF16: 32 } as Record<string, number>)[most] ?? -1;
}

async function checkFileConversions(policy: ConversionPolicy): Promise<void> {
  let requantized = 0;
  {
    const dir = scratchDir();
    try {
      for (const f of convertible()) {
        const lenient = STRICT_REFUSALS[f.id] !== undefined;
        const out = join(dir, f.id.replace(/\//g, "_"));
        const result = await convertFile(f.path, out, { lenient, onWarning: silent, policy });
        // Whatever the input's defects, the output is one llama.cpp loads: strict reading.
        const written = await readGguf(out);
        const source = await openGgufModel(f.path, { lenient });
        const bytes = readFileSync(out);
        const expected = expectedModel(f);
        try {
          assert.equal(written.version, 3);
          assert.equal(written.alignment, source.parts[0].header.alignment);
          assert.equal(written.fileSize, result.outputBytes);
          assert.equal(written.tensors.length, expected.tensors.length, f.id);
          const json = ggufToJson(written);
          assert.deepEqual(
            Object.keys(json.metadata),
            Object.keys(expected.metadata),
            `${f.id} metadata keys`,
          );
          withFloat64Digits(f.id.startsWith("split/") ? 9 : 17, () => {
            for (const [key, entry] of Object.entries(expected.metadata)) {
              if (key !== "general.file_type") {
                assertEntryMatches(json.metadata[key], entry as never, key);
              }
            }
          });
          if ("general.file_type" in expected.metadata && written.tensors.length > 0) {
            assert.equal(
              written.metadata.get("general.file_type")?.value,
              expectedFileType(
                written.tensors.map((t) => t.typeName),
                written.tensors.map((t) => t.elements),
              ),
              `${f.id} general.file_type`,
            );
          }
          for (const [i, tensor] of written.tensors.entries()) {
            const want = expected.tensors[i];
            const plan = result.plan[i];
            assert.equal(tensor.name, want.name);
            assert.deepEqual(tensor.shape, want.shape);
            assert.equal(tensor.typeName, plan.typeName);
            const inTarget = (policy.target ?? ["Q4_0", "Q8_0", "F32"]).includes(tensor.typeName);
            assert.ok(
              inTarget || want.f32_sha256 === null,
              `${f.id} ${tensor.name} ${tensor.typeName}`,
            );
            const data = bytes.subarray(tensor.fileOffset, tensor.fileOffset + tensor.nbytes);
            if (plan.typeName === "F32") {
              if (want.f32_sha256 !== null) {
                assert.equal(
                  sha256(data),
                  want.f32_sha256,
                  `${f.id} ${tensor.name}`,
                );
              }
            } else if (plan.action === "requantize") {
              const type = plan.typeName as "Q8_0" | "Q4_0";
              const oracle = requantOracle(f, tensor.name);
              if (oracle !== undefined) {
                assert.equal(sha256(data), oracle[type], `${f.id} ${tensor.name} ${type}`);
                requantized++;
              }
            } else {
              const part = source.parts[source.tensorParts[i]];
              const original = await part.source.read(plan.info.fileOffset, plan.info.nbytes);
              assert.ok(Buffer.from(data).equals(Buffer.from(original)), `${f.id} ${tensor.name}`);
            }
          }
        } catch (error) {
          if (error instanceof Error) error.message = `${f.id}: ${error.message}`;
          throw error;
        } finally {
          await source.close();
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  if (policy.requantize !== undefined) {
    assert.ok(requantized > 100, `only ${requantized} requantized tensors checked`);
  }
}

const DENO = join(ROOT, "node_modules", ".bin", "deno");
const BUN = join(ROOT, "node_modules", ".bin", "bun");

test(
  "Deno and Bun write byte-identical files",
  {
    skip: conformance.skip ||
      (existsSync(DENO) && existsSync(BUN) ? false : "deno and bun are not installed"),
  },
  () => {
    const dir = scratchDir();
    try {
      for (
        const id of ["gen/all-types.gguf", "gen/kquants.gguf", "split/legacy-00001-of-00003.gguf"]
      ) {
        const input = fixture(id).path;
        const a = join(dir, "deno.gguf");
        const b = join(dir, "bun.gguf");
        const deno = spawnSync(DENO, ["run", "-A", "convert.ts", input, "-o", a, "-q", "--force"], {
          cwd: ROOT,
        });
        const bun = spawnSync(BUN, ["convert.ts", input, "-o", b, "-q", "--force"], { cwd: ROOT });
        assert.equal(deno.status, 0, String(deno.stderr));
        assert.equal(bun.status, 0, String(bun.stderr));
        assert.equal(sha256(readFileSync(a)), sha256(readFileSync(b)), id);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test("a truncated input leaves no file behind", conformance, async () => {
  const dir = scratchDir();
  try {
    const bytes = readFileSync(fixture("gen/kquants.gguf").path);
    const input = join(dir, "cut.gguf");
    writeFileSync(input, bytes.subarray(0, bytes.length - 1000));
    const out = join(dir, "out.gguf");
    await assert.rejects(
      convertFile(input, out),
      (e: unknown) => e instanceof GgufError && e.code === "OUT_OF_BOUNDS",
    );
    assert.deepEqual(readdirSync(dir), ["cut.gguf"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("convertFile() checks the output before it reads the input", async () => {
  await assert.rejects(
    convertFile("/nonexistent-model.gguf", "/nonexistent-dir/out.gguf"),
    (e: unknown) => e instanceof GgufError && e.code === "BAD_OUTPUT",
  );
});

test("a missing output directory is refused before any work", conformance, async () => {
  await assert.rejects(
    convertFile(fixture("gen/legacy.gguf").path, "/nonexistent-dir/out.gguf"),
    (e: unknown) =>
      e instanceof GgufError && e.code === "BAD_OUTPUT" &&
      e.message ===
        "Cannot write /nonexistent-dir/out.gguf: the directory /nonexistent-dir does not exist",
  );
});

test(
  "an interrupted conversion leaves the target untouched and no temporary",
  conformance,
  async () => {
    const dir = scratchDir();
    try {
      const out = join(dir, "out.gguf");
      writeFileSync(out, "previous contents");
      const controller = new AbortController();
      await assert.rejects(
        convertFile(fixture("gen/kquants.gguf").path, out, {
          force: true,
          chunkBytes: 4096,
          signal: controller.signal,
          onProgress: (p) => {
            if (p.bytesWritten > 100_000) controller.abort(new Error("stop"));
          },
        }),
        (e: unknown) => e instanceof GgufError && e.code === "ABORTED",
      );
      assert.deepEqual(readdirSync(dir), ["out.gguf"]);
      assert.equal(readFileSync(out, "utf8"), "previous contents");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test("a sink that fails midway is aborted, never committed", conformance, async () => {
  const model = await openGgufModel(fixture("gen/kquants.gguf").path);
  try {
    let written = 0;
    const calls: string[] = [];
    const sink: ByteSink = {
      write(bytes) {
        written += bytes.length;
        if (written > 200_000) {
          return Promise.reject(new GgufError("IO", "Cannot write: disk full"));
        }
        return Promise.resolve();
      },
      commit: () => (calls.push("commit"), Promise.resolve()),
      abort: () => (calls.push("abort"), Promise.resolve()),
    };
    await assert.rejects(
      writeConvertedModel(model, () => Promise.resolve(sink)),
      (e: unknown) => e instanceof GgufError && e.code === "IO",
    );
    assert.deepEqual(calls, ["abort"]);
  } finally {
    await model.close();
  }
});

test(
  "refuses an existing output without --force and the input as output",
  conformance,
  async () => {
    const dir = scratchDir();
    try {
      const input = fixture("gen/legacy.gguf").path;
      const out = join(dir, "out.gguf");
      writeFileSync(out, "x");
      await assert.rejects(
        convertFile(input, out),
        (e: unknown) => e instanceof GgufError && e.code === "OUTPUT_EXISTS",
      );
      await convertFile(input, out, { force: true, onWarning: silent });
      assert.ok(readFileSync(out).length > 1000);
      await assert.rejects(
        convertFile(out, out, { force: true, onWarning: silent }),
        (e: unknown) => e instanceof GgufError && e.code === "SAME_FILE",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test("split models: a later part or a missing part is a clear error", conformance, async () => {
  const dir = scratchDir();
  try {
    await assert.rejects(
      openGgufModel(fixture("split/kquants-00002-of-00003.gguf").path),
      (e: unknown) =>
        e instanceof GgufError && e.code === "BAD_METADATA" &&
        /name the first part/.test(e.message),
    );
    writeFileSync(
      join(dir, "m-00001-of-00003.gguf"),
      readFileSync(fixture("split/kquants-00001-of-00003.gguf").path),
    );
    writeFileSync(
      join(dir, "m-00002-of-00003.gguf"),
      readFileSync(fixture("split/kquants-00002-of-00003.gguf").path),
    );
    await assert.rejects(
      openGgufModel(join(dir, "m-00001-of-00003.gguf")),
      (e: unknown) =>
        e instanceof GgufError && e.code === "IO" && /m-00003-of-00003/.test(e.message),
    );
    writeFileSync(
      join(dir, "m-00003-of-00003.gguf"),
      readFileSync(fixture("split/kquants-00002-of-00003.gguf").path),
    );
    await assert.rejects(
      openGgufModel(join(dir, "m-00001-of-00003.gguf")),
      (e: unknown) =>
        e instanceof GgufError && e.code === "BAD_METADATA" && /part 3 of 3/.test(e.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("CLI -o: exit codes, one-line errors, summary", conformance, async () => {
  const dir = scratchDir();
  try {
    const out = join(dir, "out.gguf");
    let stderr = "";
    const io = { stdout: () => {}, stderr: (t: string) => void (stderr += t) };
    assert.equal(await main([fixture("gen/kquants.gguf").path, "-o", out], io), 0);
    assert.match(
      stderr,
      /converted 20 tensors \(\d+ dequantize, \d+ keep\) from 1 file: .*\nin .*, peak memory/,
    );
    stderr = "";
    assert.equal(await main([fixture("gen/kquants.gguf").path, "-o", out], io), 1);
    assert.match(
      stderr,
      /^error: Cannot write [^\n]*: it exists \(--force replaces it\)\n$/,
    );
    stderr = "";
    assert.equal(await main([fixture("gen/kquants.gguf").path, "-o", out, "--force", "-q"], io), 0);
    assert.equal(stderr, "");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a file conversion says where its time went, and -v prints it", async () => {
  const dir = scratchDir();
  try {
    const sample = join(ROOT, "samples/tiny-llama.gguf");
    const result = await convertFile(sample, join(dir, "a.gguf"), { policy: { target: ["F32"] } });
    const { phases } = result;
    for (const name of ["preparing", "converting", "waitingOnWrites", "committing"] as const) {
      assert.ok(phases[name] >= 0 && Number.isFinite(phases[name]), name);
    }
    for (const name of ["finalFlush", "rename", "directoryFlush", "backgroundFlushes"]) {
      assert.ok(phases.sink![name] >= 0, name);
    }
    // Dequantizing to F32 changes no value: nothing to measure, the error is exactly 0.
    assert.equal(result.summary.relativeError, 0);
    const stderr: string[] = [];
    const code = await main([sample, "-o", join(dir, "b.gguf"), "-v"], {
      stdout: silent,
      stderr: (text: string) => void stderr.push(text),
    });
    assert.equal(code, 0);
    assert.match(stderr.join(""), /note: time: preparing \d+\.\d\d s, converting .*\(final flush/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
