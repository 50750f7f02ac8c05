/**
 * A model's names cannot act on the terminal: keys and tensor names holding ESC, BEL, CSI,
 * C1 controls and bytes that are not UTF-8 come out escaped from every text output of the
 * command line (`--plan`, `--key`, `--dump`, errors) and from `GgufError` messages.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { GgufError, readGguf } from "../mod.ts";
import { runCli } from "./_cli.ts";
import { escapeText, quoteText } from "../src/model/escape_text.ts";
import { ARCHITECTURE, ggufBytes, stringValue } from "./_gguf_bytes.ts";

const encoder = new TextEncoder();
const dir = mkdtempSync(join(tmpdir(), "gguf-escape-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** ESC ] 0 ; … BEL sets the window title; ESC [ 2 J clears the screen; C2 9B is CSI. */
const TITLE = [0x1b, ...encoder.encode("]0;PWNED"), 0x07];
const CLEAR = [0x1b, ...encoder.encode("[2J")];
const CSI = [0xc2, 0x9b, ...encoder.encode("31m")];
/** A lone 0x9b (CSI in 8-bit terminals) and 0xff: bytes that are not UTF-8. */
const RAW = [0x9b, 0xff];

const EVIL_KEY = [...encoder.encode("evil."), ...TITLE, ...CLEAR];
const EVIL_TENSOR = [...encoder.encode("t."), ...CLEAR, ...CSI, 0x7f, ...RAW];
const EVIL_VALUE = [...encoder.encode("v"), ...TITLE, ...CSI];

function gguf(
  entries: [number[], number, number[]][],
  tensors: { name: number[]; elements: number }[],
): Uint8Array {
  return ggufBytes(
    entries.map(([key, type, value]) => ({ key, type, value })),
    tensors.map(({ name, elements }) => ({ name, shape: [elements] })),
  );
}

const ARCH: [number[], number, number[]] = [
  ARCHITECTURE.key,
  ARCHITECTURE.type,
  ARCHITECTURE.value,
];

function write(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

const model = write(
  "evil.gguf",
  gguf(
    [ARCH, [EVIL_KEY, 8, stringValue(EVIL_VALUE)], [[...CSI, ...RAW], 4, [7, 0, 0, 0]]],
    [{ name: EVIL_TENSOR, elements: 8 }, { name: [...TITLE], elements: 8 }],
  ),
);

/** Characters a terminal may act on, or that cannot be written as UTF-8. */
function assertInert(text: string, what: string): void {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const control = (c < 0x20 && c !== 0x0a) || (c >= 0x7f && c <= 0x9f);
    assert.ok(!control, `${what}: U+${c.toString(16).padStart(4, "0")} at ${i}`);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = text.charCodeAt(++i);
      assert.ok(next >= 0xdc00 && next <= 0xdfff, `${what}: lone surrogate at ${i - 1}`);
    } else {
      assert.ok(c < 0xdc00 || c > 0xdfff, `${what}: lone surrogate at ${i}`);
    }
  }
}

async function run(args: string[]) {
  const { status, stdout, stderr } = await runCli(args);
  assertInert(stdout, `${args.join(" ")}: stdout`);
  assertInert(stderr, `${args.join(" ")}: stderr`);
  return { status, stdout, stderr };
}

/** What the parser makes of the names (however it decodes bytes that are not UTF-8). */
const file = await readGguf(model);
const evilKey = [...file.metadata.keys()][1];
const evilTensor = file.tensors[0].name;

test("escapeText() escapes C0, DEL, C1 and lone surrogates, and nothing else", () => {
  assert.equal(escapeText("\x1b]0;PWNED\x07\x7f\t\n"), "\\x1b]0;PWNED\\x07\\x7f\\t\\n");
  assert.equal(escapeText("\u0085\u009b\u00a0"), "\\u0085\\u009b\u00a0");
  // Surrogate-escaped bytes show as the bytes; other lone surrogates by code point.
  assert.equal(escapeText("\udc9b\udcff\udc41\ud800x"), "\\x9b\\xff\\udc41\\ud800x");
  assert.equal(escapeText("😀\\x"), "😀\\x");
  assert.equal(escapeText(escapeText("\x1b\udcff")), "\\x1b\\xff");
  assert.equal(quoteText('a"\\\x1b'), '"a\\"\\\\\\x1b"');
});

test("--plan shows key and tensor names escaped", async () => {
  for (const args of [[model, "--plan"], [model]]) {
    const { status, stdout } = await run(args);
    assert.equal(status, 0);
    assert.ok(stdout.includes("evil.\\x1b]0;PWNED\\x07\\x1b[2J"), stdout);
    assert.ok(stdout.includes('"v\\x1b]0;PWNED\\x07\\u009b31m"'), stdout);
    assert.ok(stdout.includes("t.\\x1b[2J\\u009b31m\\x7f"), stdout);
  }
});

test("--plan --json and --key escape C1 controls as JSON does C0", async () => {
  const plan = await run([model, "--plan", "--json"]);
  assert.equal(plan.status, 0);
  const json = JSON.parse(plan.stdout);
  assert.equal(json.tensors[0].name, evilTensor);
  const key = await run([model, "--key", evilKey]);
  assert.equal(key.status, 0, key.stderr);
  assert.deepEqual(Object.keys(JSON.parse(key.stdout)), [evilKey]);
});

test("--dump shows the tensor's name escaped, as text and as JSON", async () => {
  const text = await run([model, "--dump", evilTensor]);
  assert.equal(text.status, 0, text.stderr);
  assert.ok(text.stdout.startsWith("t.\\x1b[2J\\u009b31m\\x7f"), text.stdout);
  const json = await run([model, "--dump", evilTensor, "--json"]);
  assert.equal(JSON.parse(json.stdout).name, evilTensor);
});

test("errors that quote names escape them: did-you-mean, repeated key, out of bounds", async () => {
  const missingTensor = await run([model, "--dump", "t."]);
  assert.equal(missingTensor.status, 1);
  assert.match(missingTensor.stderr, /did you mean "t\.\\x1b\[2J/);
  const missingKey = await run([model, "--key", "evil"]);
  assert.equal(missingKey.status, 1);
  assert.match(missingKey.stderr, /did you mean "evil\.\\x1b\]0;PWNED\\x07/);

  const repeated = write(
    "repeated.gguf",
    gguf([ARCH, [EVIL_KEY, 4, [1, 0, 0, 0]], [EVIL_KEY, 4, [2, 0, 0, 0]]], []),
  );
  const duplicate = await run([repeated, "--plan"]);
  assert.equal(duplicate.status, 1);
  assert.match(duplicate.stderr, /key "evil\.\\x1b\]0;PWNED\\x07\\x1b\[2J" at byte/);
  const lenient = await run([repeated, "--plan", "--lenient"]);
  assert.equal(lenient.status, 0);
  assert.match(lenient.stdout, /repeated keys ignored: evil\.\\x1b/);

  const bytes = gguf([ARCH], [{ name: EVIL_TENSOR, elements: 8 }]);
  const outside = write("outside.gguf", bytes.subarray(0, bytes.length - 4));
  const bounds = await run([outside, "--plan"]);
  assert.equal(bounds.status, 1);
  assert.match(bounds.stderr, /tensor "t\.\\x1b\[2J\\u009b31m\\x7f.*past the end/);
});

test("GgufError messages are inert for library users too", async () => {
  const bytes = gguf([ARCH, [EVIL_KEY, 4, [1, 0, 0, 0]], [EVIL_KEY, 4, [2, 0, 0, 0]]], []);
  await assert.rejects(readGguf(bytes), (error: unknown) => {
    assert.ok(error instanceof GgufError);
    assert.equal(error.code, "DUPLICATE_KEY");
    assertInert(error.message, "message");
    return true;
  });
});

test("a name with a right-to-left override shows the control, and a huge key one short line", async () => {
  // U+202E shows "abc" as "cba": a tensor named "t.\u202Efdp.exe" would display as another.
  const RLO = [...encoder.encode("t.\u202egpj.exe")];
  const bidi = write("bidi.gguf", gguf([ARCH], [{ name: RLO, elements: 8 }]));
  const plan = await runCli([bidi, "--plan"]);
  assert.equal(plan.status, 0, plan.stderr);
  assert.ok(!plan.stdout.includes("\u202e"));
  assert.ok(plan.stdout.includes("t.\\u202egpj.exe"));
  // A key of 50_000 ESCs, twice: the error quotes it (200_000 characters escaped), cut to a
  // line of bounded length.
  const huge = Array(50_000).fill(0x1b);
  const repeated = write(
    "huge-key.gguf",
    gguf([ARCH, [huge, 4, [1, 0, 0, 0]], [huge, 4, [2, 0, 0, 0]]], []),
  );
  const refused = await runCli([repeated]);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /^error: [^\n]*characters left out[^\n]*\n$/);
  assert.ok(refused.stderr.length < 2100, `${refused.stderr.length} characters`);
});
