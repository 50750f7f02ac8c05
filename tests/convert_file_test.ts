import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  type ByteSink,
  convertedHeader,
  convertFile,
  GgufError,
  ggufToJson,
  openGgufModel,
  planConversion,
  readGguf,
  writeConverted,
} from "../mod.ts";
import { main } from "../convert.ts";
import { assertEntryMatches, withFloat64Digits } from "./_compare.ts";
import {
  conformance,
  type ExpectedTensor,
  fixture,
  listFixtures,
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

test(
  "convertFile() output reads back: F32 tensors bit-exact, others byte for byte, metadata kept",
  conformance,
  async () => {
    const dir = scratchDir();
    try {
      for (const f of convertible()) {
        const lenient = STRICT_REFUSALS[f.id] !== undefined;
        const out = join(dir, f.id.replace(/\//g, "_"));
        const result = await convertFile(f.path, out, { lenient, onWarning: silent });
        const written = await readGguf(out, { lenient });
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
              assertEntryMatches(json.metadata[key], entry as never, key);
            }
          });
          for (const [i, tensor] of written.tensors.entries()) {
            const want = expected.tensors[i];
            const plan = result.plan[i];
            assert.equal(tensor.name, want.name);
            assert.deepEqual(tensor.shape, want.shape);
            assert.equal(tensor.typeName, plan.outputType);
            const data = bytes.subarray(tensor.fileOffset, tensor.fileOffset + tensor.nbytes);
            if (plan.kind === "float32") {
              if (want.f32_sha256 !== null) {
                assert.equal(
                  sha256(data),
                  want.f32_sha256,
                  `${f.id} ${tensor.name}`,
                );
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
  },
);

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

test("an unwritable output directory is an IO error", conformance, async () => {
  await assert.rejects(
    convertFile(fixture("gen/legacy.gguf").path, "/nonexistent-dir/out.gguf"),
    (e: unknown) =>
      e instanceof GgufError && e.code === "IO" && e.message.startsWith("Cannot write"),
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
    const plan = planConversion(model);
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
      writeConverted(model, plan, sink, { header: convertedHeader(model, plan) }),
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
      /converted 20 tensors \(\d+ dequantize, \d+ passthrough\) from 1 file: .* peak memory/,
    );
    stderr = "";
    assert.equal(await main([fixture("gen/kquants.gguf").path, "-o", out], io), 1);
    assert.match(
      stderr,
      /^error: Cannot write [^\n]*: it exists \(pass --force to replace it\)\n$/,
    );
    stderr = "";
    assert.equal(await main([fixture("gen/kquants.gguf").path, "-o", out, "--force", "-q"], io), 0);
    assert.equal(stderr, "");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
