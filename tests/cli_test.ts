import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { GgufError, readGguf } from "../mod.ts";
import { runCli as run } from "./_cli.ts";
import { assertHeaderMatches } from "./_compare.ts";
import { conformance, fixture, FIXTURES_DIR, listFixtures } from "./_fixtures.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

test("--help prints usage and every flag, exit 0", async () => {
  const { status, stdout } = await run(["--help"]);
  assert.equal(status, 0);
  for (
    const flag of [
      "--plan",
      "--json",
      "--dequantize",
      "--keep",
      "--unsupported",
      "--lenient",
      "--access",
      "--idle-timeout",
      "--quiet",
      "--version",
    ]
  ) {
    assert.ok(stdout.includes(flag), flag);
  }
});

test("bad usage exits 2 with one error line", async () => {
  for (
    const args of [
      [],
      ["a.gguf", "b.gguf"],
      ["--bogus"],
      ["x.gguf", "--access", "fast"],
      ["x.gguf", "--keep", "Q9_K"],
      ["x.gguf", "-o", "-", "--json"],
      ["x.gguf", "--method", "fast"],
      ["x.gguf", "--requantize", "auto", "--max-error", "much"],
      ["x.gguf", "--for", "onnx"],
      ["x.gguf", "--idle-timeout", "soon"],
      ["x.gguf", "--idle-timeout", "1e3"],
      ["x.gguf", "--idle-timeout", "0.0004"], // would round to 0 ms, "no limit"
    ]
  ) {
    const { status, stderr } = await run(args);
    assert.equal(status, 2, args.join(" "));
    assert.match(stderr, /^error: [^\n]+\nRun with --help for usage.\n$/);
  }
});

test("flags that would be dropped or change nothing are refused, exit 2, naming the flag", async () => {
  // Each would otherwise run and silently ignore something the user typed.
  for (
    const [args, message] of [
      [["x.gguf", "-o", "a.gguf", "-o", "b.gguf"], '-o is given twice ("a.gguf" and "b.gguf")'],
      [["x.gguf", "--target", "Q8_0", "--target", "F32"], "--target is given twice"],
      [["x.gguf", "--plan", "-o", "a.gguf"], "--plan writes nothing: drop -o"],
      [["x.gguf", "--dump", "t", "--requantize", "Q8_0"], "--dump prints the model's own values"],
      [["x.gguf", "--key", "k", "--threads", "2"], "--key prints the model's own values"],
      [["x.gguf", "--force"], "--force is for a conversion"],
      [["x.gguf", "--max-error", "0.05"], "--max-error bounds the choice of --requantize auto"],
      [["x.gguf", "--requantize", "Q8_0", "--max-error", "0.05"], "not --requantize Q8_0"],
      [["x.gguf", "--method", "reference"], "--method chooses how --requantize converts"],
      [
        ["x.gguf", "--requantize", "Q4_K"],
        "--requantize Q4_K is not in the target Q4_0,Q8_0,F32 (the default): add it " +
        "(--target Q4_0,Q8_0,F32,Q4_K)",
      ],
    ] as const
  ) {
    const { status, stderr } = await run([...args]);
    assert.equal(status, 2, args.join(" "));
    assert.ok(
      stderr.startsWith("error: ") && stderr.includes(message),
      `${args.join(" ")}: ${stderr}`,
    );
    assert.match(stderr, /^error: [^\n]+\nRun with --help for usage.\n$/);
  }
  // Repeated --key is how several keys are asked for; --for with --max-error chooses.
  const keys = await run([join(ROOT, "samples", "tiny-llama.gguf"), "--key", "a", "--key", "b"]);
  assert.equal(keys.status, 1); // both missing: a model error, not usage
  const auto = await run([
    join(ROOT, "samples", "tiny-llama.gguf"),
    "--for",
    "mlx",
    "--max-error",
    "0.05",
    "--method",
    "reference",
    "-q",
  ]);
  assert.equal(auto.status, 0, auto.stderr);
});

test(
  "a missing or invalid model exits 1 with one error line and no stack",
  conformance,
  async () => {
    const missing = await run(["/nonexistent/model.gguf"]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /^error: Cannot open \/nonexistent\/model.gguf: [^\n]+\n$/);
    const refused = await run([fixture("real/gguf-rs-test-le-v3-dupkey.gguf").path]);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /^error: [^\n]*"general.architecture"[^\n]*\n$/);
  },
);

test("--plan --json matches the oracle for every fixture", conformance, async () => {
  for (const f of listFixtures().filter((f) => f.id.startsWith("gen/"))) {
    const { status, stdout } = await run([f.path, "--plan", "--json", "-q"]);
    assert.equal(status, 0, f.id);
    const json = JSON.parse(stdout);
    const shared = json.tensors.map(
      // deno-lint-ignore no-explicit-any
      ({ name, type, type_id, shape, offset, nbytes }: any) => ({
        name,
        type,
        type_id,
        shape,
        offset,
        nbytes,
      }),
    );
    assertHeaderMatches({ ...json, tensors: shared }, f.expected);
    assert.equal(json.tensors.length, json.totals.tensors);
  }
});

test("--dequantize and --keep change the plan", conformance, async () => {
  const path = fixture("gen/all-types.gguf").path;
  const { stdout } = await run([
    path,
    "--json",
    "-q",
    "--dequantize",
    "f16,Q8_0",
    "--keep",
    "Q4_K",
  ]);
  for (const t of JSON.parse(stdout).tensors) {
    if (t.type === "F16" || t.type === "Q8_0") assert.equal(t.action, "dequantize");
    if (t.type === "Q4_K") assert.equal(t.action, "keep");
  }
  const strict = await run([fixture("gen/inttypes.gguf").path, "--unsupported", "error"]);
  assert.equal(strict.status, 1);
  assert.match(strict.stderr, /^error: [^\n]*gguf-stream has no kernel for it/);
});

test(
  "--target and --requantize plan every convertible tensor into the target",
  conformance,
  async () => {
    const path = fixture("gen/all-types.gguf").path;
    const { stdout, status } = await run([
      path,
      "--json",
      "-q",
      "--target",
      "Q8_0,F32",
      "--requantize",
      "q8_0",
    ]);
    assert.equal(status, 0);
    const json = JSON.parse(stdout);
    for (const t of json.tensors) {
      assert.ok(["Q8_0", "F32"].includes(t.output_type), `${t.name} ${t.output_type}`);
      if (t.type !== "F32" && t.shape[0] % 32 === 0) assert.equal(t.output_type, "Q8_0", t.name);
      assert.equal(typeof t.reason, "string");
    }
    const shares = Object.values(json.totals.by_output_type) as { share: number }[];
    assert.ok(Math.abs(shares.reduce((sum, t) => sum + t.share, 0) - 1) < 1e-9);
    const text = await run([path, "--requantize", "Q4_0"]);
    assert.match(text.stdout, /requantize +Q4_0 .* Q6_K not in target/);
    assert.match(text.stdout, /-> Q4_0 .*% of output/);
    for (
      const [flags, message] of [
        [
          ["--requantize", "IQ2_XXS"],
          /--requantize must be auto or one of .*Q8_0.*, not "IQ2_XXS"/,
        ],
        [
          ["--target", "F32", "--requantize", "Q8_0"],
          /--requantize Q8_0 is not in the target F32: add it/,
        ],
        [["--target", "Q8"], /--target: unknown ggml type "Q8" \(known: F32, F16/],
      ] as const
    ) {
      const bad = await run([path, ...flags]);
      assert.equal(bad.status, 2);
      assert.match(bad.stderr, message);
    }
  },
);

const DENO = join(ROOT, "node_modules", ".bin", "deno");
const BUN = join(ROOT, "node_modules", ".bin", "bun");
const haveBoth = existsSync(DENO) && existsSync(BUN);

test(
  "--plan --json and the text plan are the same on Deno and Bun",
  {
    skip: conformance.skip || (haveBoth ? false : "deno and bun are not installed in node_modules"),
  },
  () => {
    for (
      const id of [
        "gen/all-types.gguf",
        "real/ggml-vocab-gpt-2.gguf",
        "real/stories260k-f32-v1.gguf",
      ]
    ) {
      const path = join(FIXTURES_DIR, id);
      for (const extra of [["--json"], []]) {
        const args = ["convert.ts", path, "--plan", "-q", ...extra];
        const deno = spawnSync(DENO, ["run", "-A", ...args], { cwd: ROOT, encoding: "utf8" });
        const bun = spawnSync(BUN, args, { cwd: ROOT, encoding: "utf8" });
        assert.equal(deno.status, 0, deno.stderr);
        assert.equal(bun.status, 0, bun.stderr);
        assert.equal(deno.stdout, bun.stdout, `${id} ${extra.join(" ")}`);
      }
    }
  },
);

test(
  "Deno without --allow-ffi falls back to reads (with a notice), or refuses --access mmap",
  {
    skip: conformance.skip || (existsSync(DENO) ? false : "deno is not installed in node_modules"),
  },
  () => {
    const path = join(FIXTURES_DIR, "gen/kquants.gguf");
    const fallback = spawnSync(DENO, [
      "run",
      "--allow-read",
      "--allow-env",
      "convert.ts",
      path,
      "-v",
      "-q",
    ], {
      cwd: ROOT,
      encoding: "utf8",
    });
    assert.equal(fallback.status, 0, fallback.stderr);
    assert.match(
      fallback.stderr,
      /^note: cannot mmap on Deno \(FFI is not allowed \(run Deno with --allow-ffi\)\); reading the file by position instead\n/,
    );
    const refused = spawnSync(DENO, [
      "run",
      "--allow-read",
      "--allow-env",
      "convert.ts",
      path,
      "--access",
      "mmap",
    ], {
      cwd: ROOT,
      encoding: "utf8",
    });
    assert.equal(refused.status, 1);
    assert.match(
      refused.stderr,
      /^error: Cannot map [^\n]*: FFI is not allowed \(run Deno with --allow-ffi/,
    );
  },
);

test("MODEL and OUT may be file:// URLs; the library's string paths say how to pass one", async () => {
  const sample = join(ROOT, "samples", "tiny-llama.gguf");
  const dir = mkdtempSync(join(tmpdir(), "gguf-stream-file-url-"));
  try {
    const out = join(dir, "out.gguf");
    const viaUrls = await run([pathToFileURL(sample).href, "-o", pathToFileURL(out).href, "-q"]);
    assert.equal(viaUrls.status, 0, viaUrls.stderr);
    const viaPaths = await run([sample, "-o", join(dir, "plain.gguf"), "-q"]);
    assert.equal(viaPaths.status, 0, viaPaths.stderr);
    assert.deepEqual(readFileSync(out), readFileSync(join(dir, "plain.gguf")));
    const hosted = await run(["file://elsewhere/model.gguf"]);
    assert.equal(hosted.status, 2);
    assert.match(hosted.stderr, /^error: MODEL file:\/\/elsewhere\/model.gguf is not a file URL/);
    await assert.rejects(
      readGguf(pathToFileURL(join(dir, "missing.gguf")).href),
      (e: unknown) =>
        e instanceof GgufError && e.code === "IO" &&
        e.message.endsWith(
          '(a string is a path: for a file: URL, pass new URL("' +
            pathToFileURL(join(dir, "missing.gguf")).href + '"))',
        ),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
