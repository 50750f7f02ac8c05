/**
 * Inspecting a model from the command line — `--key`, `--dump`, and what `--plan` shows
 * (array previews, parameter count, file type) — and `modelInfo()`, checked against the
 * fixtures' expected JSON.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { GgufError, type GgufMetadataEntry, modelInfo, readGguf } from "../mod.ts";
import { formatInteger } from "../src/model/errors.ts";
import { runCli as run } from "./_cli.ts";
import { encodeGgufHeader } from "../pipeline.ts";
import {
  conformance,
  type ExpectedEntry,
  fixture,
  FIXTURES_DIR,
  listFixtures,
  STRICT_REFUSALS,
} from "./_fixtures.ts";
import { sha256 } from "./_hash.ts";

/** Whether a printed value equals the oracle's, FLOAT32 compared as float32. */
function same(actual: unknown, expected: unknown, type: string): boolean {
  if (type === "FLOAT32" && typeof expected === "number") {
    return typeof actual === "number" && Object.is(Math.fround(actual), Math.fround(expected));
  }
  if (type === "FLOAT64" && typeof expected === "number") return Object.is(actual, expected);
  return JSON.stringify(actual) === JSON.stringify(expected);
}

function assertKeyValue(actual: unknown, expected: ExpectedEntry, key: string): void {
  if (expected.type !== "ARRAY") {
    assert.ok(
      same(actual, expected.value, expected.type),
      `${key}: ${actual} vs ${expected.value}`,
    );
    return;
  }
  assert.ok(Array.isArray(actual), key);
  assert.equal(actual.length, expected.len, `${key} length`);
  const check = (values: unknown[], from: number) =>
    values.forEach((v, i) =>
      assert.ok(same(actual[from + i], v, expected.elem!), `${key}[${from + i}]`)
    );
  if (expected.value !== undefined) check(expected.value as unknown[], 0);
  else {
    check(expected.head!, 0);
    check(expected.tail!, expected.len! - expected.tail!.length);
  }
}

test(
  "--key prints the asked values as one JSON object, as the oracle has them",
  conformance,
  async () => {
    for (const id of ["gen/metadata.gguf", "gen/all-types.gguf", "real/ggml-vocab-gpt-2.gguf"]) {
      const f = fixture(id);
      const keys = Object.keys(f.expected.metadata);
      const { status, stdout, stderr } = await run([f.path, ...keys.flatMap((k) => ["--key", k])]);
      assert.equal(status, 0, stderr);
      assert.equal(stderr, "");
      const json = JSON.parse(stdout);
      assert.deepEqual(Object.keys(json), keys, id);
      for (const key of keys) assertKeyValue(json[key], f.expected.metadata[key], `${id} ${key}`);
    }
    // -0 keeps its sign.
    const zero = await run([fixture("gen/metadata.gguf").path, "--key", "x.float32.neg_zero"]);
    assert.ok(Object.is(JSON.parse(zero.stdout)["x.float32.neg_zero"], -0));
  },
);

test(
  "--key of a missing key exits 1 with one error line naming similar keys",
  conformance,
  async () => {
    const path = fixture("real/ollama-llama-2-tiny-random.gguf").path;
    const { status, stdout, stderr } = await run([
      path,
      "--key",
      "general.name",
      "--key",
      "block_count",
    ]);
    assert.equal(status, 1);
    assert.equal(stdout, "");
    assert.equal(
      stderr,
      'error: No metadata key "block_count" in the model (18 keys; did you mean "llama.block_count"?)\n',
    );
    // A typo a few edits away is named too.
    const typo = await run([path, "--key", "general.architectur"]);
    assert.match(typo.stderr, /did you mean "general\.architecture"\?/);
    const tensor = await run([path, "--dump", "blk.0.attn_q.weigth"]);
    assert.match(tensor.stderr, /did you mean "blk\.0\.attn_q\.weight"/);
  },
);

test("--key, --dump and --rows refuse each other, -o and --plan (exit 2)", async () => {
  for (
    const args of [
      ["m.gguf", "--key", "a", "--dump", "t"],
      ["m.gguf", "--key", "a", "-o", "out.gguf"],
      ["m.gguf", "--dump", "t", "--plan"],
      ["m.gguf", "--rows", "0:2"],
      ["m.gguf", "--dump", "t", "--rows", "5:2"],
      ["m.gguf", "--dump", "t", "--rows", "x"],
    ]
  ) {
    const { status, stderr } = await run(args);
    assert.equal(status, 2, args.join(" "));
    assert.match(stderr, /^error: [^\n]+\nRun with --help for usage.\n$/);
  }
});

test("--plan shows the first elements of each array, as gguf-dump does", conformance, async () => {
  const f = fixture("gen/metadata.gguf");
  const { stdout } = await run([f.path, "--plan", "-q"]);
  for (const [key, entry] of Object.entries(f.expected.metadata)) {
    if (entry.type !== "ARRAY" || entry.elem !== "STRING") continue;
    const line = stdout.split("\n").find((l) => l.startsWith(`  ${key} `));
    assert.ok(line !== undefined, key);
    const first = (entry.value ?? entry.head) as unknown[];
    const prefix = `[STRING x ${formatInteger(entry.len!)}] [${
      first.length === 0 ? "]" : JSON.stringify(first[0])
    }`;
    assert.ok(line.includes(prefix), `${line} lacks ${prefix}`);
  }
  const tokens = stdout.split("\n").find((l) => l.startsWith("  tokenizer.ggml.tokens "))!;
  assert.match(tokens, /\[STRING x 265\] \["<unk>", "<s>", "<\/s>", "ab", .*…\]$/);
  const ints = stdout.split("\n").find((l) => l.startsWith("  arr.int32 "))!;
  assert.match(ints, /\[INT32 x 4\] \[-2147483648, -1, 1, 2147483647\]$/);
});

test("--plan shows the parameter count and the file type's name", conformance, async () => {
  for (const f of listFixtures().filter((f) => !f.id.startsWith("split/"))) {
    if (f.id in STRICT_REFUSALS || f.lenientOracle) continue;
    const parameters = f.expected.tensors.reduce(
      (sum, t) => sum + t.shape.reduce((a, b) => a * b, 1),
      0,
    );
    const { status, stdout } = await run([f.path, "--plan", "-q"]);
    assert.equal(status, 0, f.id);
    const line = stdout.split("\n")[1];
    assert.match(line, /^model: /, f.id);
    assert.ok(
      line.endsWith(
        parameters < 1000 ? ` ${parameters} params` : ` params (${formatInteger(parameters)})`,
      ),
      `${f.id}: ${line}`,
    );
  }
  const tiny = await run([fixture("real/ollama-llama-2-tiny-random.gguf").path, "--plan", "-q"]);
  assert.match(
    tiny.stdout,
    /\nmodel: llama "LLaMA v2", MOSTLY_F16 \(general.file_type 1\), 513 K params \(513_048\)\n/,
  );
  assert.match(tiny.stdout, /\n {2}general\.file_type +1 \(MOSTLY_F16\)\n/);
});

test(
  "--dump --json prints every value bit-exact (the oracle's SHA-256), NaN and Inf as null",
  conformance,
  async () => {
    let hashed = 0;
    for (const f of listFixtures().filter((f) => f.id.startsWith("gen/"))) {
      for (const t of f.expected.tensors) {
        if (t.head === null) continue;
        const elements = t.shape.reduce((a, b) => a * b, 1);
        // Small tensors whole (their hash checks every value), large ones their first rows.
        const whole = elements <= 65536;
        const rows = whole ? elements / t.shape[0] : Math.ceil(t.head.length / t.shape[0]);
        const { status, stdout, stderr } = await run([
          f.path,
          "--dump",
          t.name,
          "--rows",
          `:${rows}`,
          "--json",
        ]);
        assert.equal(status, 0, `${f.id} ${t.name}: ${stderr}`);
        const json = JSON.parse(stdout);
        assert.equal(json.name, t.name);
        assert.equal(json.type, t.type);
        assert.deepEqual(json.shape, t.shape);
        assert.deepEqual(json.rows, [0, rows]);
        const values: (number | null)[] = json.values.flat();
        assert.equal(values.length, rows * t.shape[0]);
        t.head.forEach((want, i) => {
          const where = `${f.id} ${t.name}[${i}]`;
          if (want === null) assert.equal(values[i], null, where);
          else assert.ok(Math.fround(values[i]!) === Math.fround(want), `${where}: ${values[i]}`);
        });
        if (whole && t.nan === 0 && t.inf === 0) {
          // Every printed decimal reads back as the very float32 ggml computed, -0 included.
          assert.equal(
            sha256(new Float32Array(values as number[])),
            t.f32_sha256,
            `${f.id} ${t.name}`,
          );
          hashed++;
        }
      }
    }
    assert.ok(hashed > 50, `${hashed} tensors hashed`);
  },
);

test(
  "--dump prints text rows whose numbers read back as the same float32",
  conformance,
  async () => {
    const f = fixture("gen/all-types.gguf");
    for (const t of f.expected.tensors.filter((t) => t.head !== null && t.shape[0] >= 8)) {
      const { status, stdout } = await run([f.path, "--dump", t.name]);
      assert.equal(status, 0, t.name);
      const lines = stdout.split("\n");
      assert.match(lines[0], new RegExp(`^${t.name.replace(/[.]/g, "\\.")}: ${t.type}, shape `));
      assert.equal(lines[1], "row 0:");
      const numbers = lines[2].trim().split(/\s+/).slice(1).map(Number);
      t.head!.forEach((want, i) => {
        if (want === null) assert.ok(!Number.isFinite(numbers[i]), `${t.name}[${i}]`);
        else assert.ok(Math.fround(numbers[i]) === Math.fround(want), `${t.name}[${i}]`);
      });
      const rows = t.shape.slice(1).reduce((a, b) => a * b, 1);
      assert.equal(lines.filter((l) => l.startsWith("row ")).length, Math.min(4, rows));
    }
  },
);

test(
  "--dump of a missing tensor, rows past the end, or an integer type exits 1",
  conformance,
  async () => {
    const path = fixture("gen/legacy.gguf").path;
    const missing = await run([path, "--dump", "attn_q"]);
    assert.equal(missing.status, 1);
    assert.match(
      missing.stderr,
      /^error: No tensor "attn_q" in the model \(29 tensors; did you mean "blk\.0\.attn_q\.weight"/,
    );
    const past = await run([path, "--dump", "blk.0.attn_q.weight", "--rows", "100000:"]);
    assert.equal(past.status, 1);
    assert.match(past.stderr, /^error: Tensor "blk\.0\.attn_q\.weight" has \d+ rows/);
    const ints = await run([
      fixture("gen/inttypes.gguf").path,
      "--dump",
      fixture("gen/inttypes.gguf").expected.tensors.find((t) => t.type === "I32")!.name,
    ]);
    assert.equal(ints.status, 1);
    assert.match(ints.stderr, /^error: Cannot dequantize .*no I32 kernel/);
  },
);

test("--dump of a type with no kernel says why, as is true of that type", async () => {
  const dir = mkdtempSync(join(tmpdir(), "gguf-no-kernel-"));
  try {
    // One tensor "a" of each type with no kernel: ggml's id, elements, bytes.
    const cases: [string, number, number, number, string][] = [
      [
        "Q8_1",
        9,
        32,
        36,
        " (Q8_1 is ggml's internal type for matrix products; no ggml quantizer writes it to a file)",
      ],
      [
        "Q8_K",
        15,
        256,
        292,
        " (Q8_K is ggml's internal type for matrix products; no ggml quantizer writes it to a file)",
      ],
      ["I8", 24, 4, 4, " (integer types have no float form)"],
      ["I64", 27, 4, 32, " (integer types have no float form)"],
      ["F64", 28, 4, 32, ""],
    ];
    for (const [name, type, elements, nbytes, why] of cases) {
      const header = encodeGgufHeader({
        alignment: 32,
        metadata: [{ key: "general.architecture", type: 8, value: "llama" }],
        tensors: [{ name: "a", shape: [elements], type, nbytes }],
      });
      const file = new Uint8Array(header.fileSize);
      file.set(header.bytes);
      const path = join(dir, `${name}.gguf`);
      writeFileSync(path, file);
      const dumped = await run([path, "--dump", "a"]);
      assert.equal(dumped.status, 1, name);
      assert.equal(
        dumped.stderr,
        `error: Cannot dequantize "a": gguf-stream has no ${name} kernel${why}\n`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--dump by row range reads exactly those rows", conformance, async () => {
  const path = join(FIXTURES_DIR, "gen/kquants.gguf");
  const all = JSON.parse(
    (await run([path, "--dump", "blk.0.attn_q.weight", "--rows", "0:6", "--json"])).stdout,
  );
  const some = JSON.parse(
    (await run([path, "--dump", "blk.0.attn_q.weight", "--rows", "3:5", "--json"])).stdout,
  );
  const one = JSON.parse(
    (await run([path, "--dump", "blk.0.attn_q.weight", "--rows", "4", "--json"])).stdout,
  );
  assert.deepEqual(some.values, all.values.slice(3, 5));
  assert.deepEqual(one.values, all.values.slice(4, 5));
  assert.deepEqual(one.rows, [4, 5]);
});

test("modelInfo() reads the well-known keys with their types", conformance, async () => {
  for (
    const id of [
      "real/ollama-llama-2-tiny-random.gguf",
      "real/ggml-vocab-gpt-2.gguf",
      "gen/all-types.gguf",
    ]
  ) {
    const f = fixture(id);
    const m = f.expected.metadata;
    const value = (key: string) => m[key]?.value;
    const info = modelInfo(await readGguf(f.path));
    const arch = value("general.architecture") as string;
    assert.equal(info.architecture, arch);
    assert.equal(info.name, value("general.name"));
    assert.equal(info.blockCount, value(`${arch}.block_count`));
    assert.equal(info.contextLength, value(`${arch}.context_length`));
    assert.equal(info.embeddingLength, value(`${arch}.embedding_length`));
    assert.equal(info.feedForwardLength, value(`${arch}.feed_forward_length`));
    assert.equal(info.headCount, value(`${arch}.attention.head_count`));
    assert.equal(info.headCountKv, value(`${arch}.attention.head_count_kv`));
    assert.equal(info.fileType, value("general.file_type"));
    assert.equal(info.tokenizerModel, value("tokenizer.ggml.model"));
    assert.equal(info.vocabSize, m["tokenizer.ggml.tokens"]?.len);
    const eps = value(`${arch}.attention.layer_norm_rms_epsilon`);
    assert.equal(info.rmsNormEpsilon, eps === undefined ? undefined : Math.fround(eps as number));
    assert.equal(
      info.parameters,
      f.expected.tensors.reduce((sum, t) => sum + t.shape.reduce((a, b) => a * b, 1), 0),
    );
  }
  const tiny = modelInfo(await readGguf(fixture("real/ollama-llama-2-tiny-random.gguf").path));
  assert.equal(tiny.fileTypeName, "MOSTLY_F16");
});

test("modelInfo() refuses a well-known key of the wrong type (BAD_METADATA)", () => {
  const entry = (key: string, type: number, value: unknown): [string, GgufMetadataEntry] => [
    key,
    { key, type, value, offset: 40 } as GgufMetadataEntry,
  ];
  const metadata = new Map([
    entry("general.architecture", 8, "llama"),
    entry("llama.block_count", 8, "twelve"),
  ]);
  assert.throws(() => modelInfo({ metadata, tensors: [] }), (error: unknown) => {
    assert.ok(error instanceof GgufError);
    assert.equal(error.code, "BAD_METADATA");
    assert.equal(error.offset, 40);
    assert.equal(error.message, "Cannot read llama.block_count: expected an integer, found STRING");
    return true;
  });
  const perLayer = new Map([
    entry("general.architecture", 8, "openelm"),
    entry("openelm.attention.head_count", 9, { elementType: 4, values: new Uint32Array([12, 16]) }),
  ]);
  assert.deepEqual(modelInfo({ metadata: perLayer, tensors: [] }).headCount, [12, 16]);
});
