/**
 * Output names up to the 255 bytes a file name may have: the temporary beside OUT must fit
 * too, and leftovers of a long name are found without touching another output's.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { convertFile, GgufError, readGguf } from "../mod.ts";
import { main } from "../convert.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SAMPLE = join(ROOT, "samples", "tiny-llama.gguf");
const silent = () => {};
/** A process id above Linux's largest pid_max (2^22): no process has it. */
const DEAD = 99_999_999;

const bytes = (text: string) => new TextEncoder().encode(text).length;

function scratchDir(): string {
  return mkdtempSync(join(tmpdir(), "gguf-stream-name-"));
}

/**
 * The documented name of a long output's temporary: its first 197 bytes (whole
 * characters), `.tmp~`, the first 32 hex digits of its SHA-256, then `PID-RANDOM`.
 */
function longTemporary(name: string, pid: number, random = "abcdefgh"): string {
  let prefix = "";
  for (const char of name) {
    if (bytes(prefix + char) > 197) break;
    prefix += char;
  }
  const digest = createHash("sha256").update(name, "utf8").digest("hex").slice(0, 32);
  return `.${prefix}.tmp~${digest}-${pid}-${random}`;
}

const ASCII_255 = "a".repeat(250) + ".gguf";
const CJK_80 = "模".repeat(80) + ".gguf";

test("output names of 255 ASCII bytes and of 80 CJK characters convert", async () => {
  assert.equal(bytes(ASCII_255), 255);
  assert.equal(bytes(CJK_80), 245);
  const dir = scratchDir();
  try {
    // 230 bytes is the longest name whose temporary is .NAME.tmp-PID-RANDOM; 231 the shortest
    // that takes the long form.
    for (const name of [ASCII_255, CJK_80, "b".repeat(230), "c".repeat(231)]) {
      const out = join(dir, name);
      const result = await convertFile(SAMPLE, out, { onWarning: silent });
      assert.equal((await readGguf(out)).tensors.length, result.plan.length);
      assert.deepEqual(readdirSync(dir), [name]);
      rmSync(out);
    }
    let stderr = "";
    const io = { stdout: () => {}, stderr: (t: string) => void (stderr += t) };
    assert.equal(await main([SAMPLE, "-o", join(dir, CJK_80), "-q"], io), 0, stderr);
    assert.deepEqual(readdirSync(dir), [CJK_80]);
    // A name past 255 bytes is the system's to refuse, in one line.
    assert.equal(await main([SAMPLE, "-o", join(dir, "d".repeat(256)), "-q"], io), 1);
    assert.match(stderr, /^error: Cannot write .*d{256}.*\n$/);
    assert.deepEqual(readdirSync(dir), [CJK_80]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a failed conversion to a long name leaves no temporary", async () => {
  const dir = scratchDir();
  try {
    const controller = new AbortController();
    let temporaries: string[] = [];
    await assert.rejects(
      convertFile(SAMPLE, join(dir, ASCII_255), {
        onWarning: silent,
        signal: controller.signal,
        onProgress: ({ bytesWritten }) => {
          if (bytesWritten === 0 || controller.signal.aborted) return;
          temporaries = readdirSync(dir);
          controller.abort(new Error("stop"));
        },
      }),
      (e: unknown) => e instanceof GgufError && e.code === "ABORTED",
    );
    // It was being written under its long form, and is gone.
    assert.equal(temporaries.length, 1);
    assert.match(temporaries[0], /^\.a{197}\.tmp~[0-9a-f]{32}-\d+-[0-9a-z]{8}$/);
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a long name's leftover temporaries are removed; another output's with the same first 200 bytes are kept", async () => {
  const dir = scratchDir();
  try {
    const shared = "x".repeat(200);
    const mine = shared + "a".repeat(40) + ".gguf";
    const theirs = shared + "b".repeat(40) + ".gguf";
    const cjkLeft = longTemporary(CJK_80, DEAD);
    const left = [
      longTemporary(mine, DEAD), // left by a killed run: removed
      longTemporary(mine, DEAD, "00000000"),
      cjkLeft, // another output's (a CJK name)
      longTemporary(theirs, DEAD), // another output's: same first 200 bytes, kept
      longTemporary(mine, process.pid), // a run still going (this process): kept
      // The plain form's prefix with an output named like the long form's start: kept.
      `.${shared.slice(0, 197)}.tmp-${DEAD}-abcdefgh`,
    ];
    for (const name of left) {
      assert.ok(bytes(name) <= 255, name);
      writeFileSync(join(dir, name), "partial");
    }
    await convertFile(SAMPLE, join(dir, mine), { onWarning: silent });
    assert.deepEqual(
      readdirSync(dir).sort(),
      [mine, ...left.slice(2)].sort(),
    );
    // The CJK output's own leftover goes with its next run, and only it.
    await convertFile(SAMPLE, join(dir, CJK_80), { onWarning: silent });
    assert.deepEqual(readdirSync(dir).sort(), [mine, CJK_80, ...left.slice(3)].sort());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an output named like a long name's shortened start keeps that name's temporaries", async () => {
  const dir = scratchDir();
  try {
    const long = "y".repeat(240) + ".gguf";
    const leftover = longTemporary(long, DEAD);
    writeFileSync(join(dir, leftover), "partial");
    // `.PREFIX.tmp-…` is this output's; `.PREFIX.tmp~DIGEST-…` is not.
    const short = "y".repeat(197);
    await convertFile(SAMPLE, join(dir, short), { onWarning: silent });
    assert.deepEqual(readdirSync(dir).sort(), [leftover, short].sort());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a temporary of the plain form left for a name of 231 bytes or more is removed too", async () => {
  const dir = scratchDir();
  try {
    // Earlier versions wrote .NAME.tmp-PID-RANDOM for any name that fit with their pid.
    const name = "z".repeat(231);
    const plain = `.${name}.tmp-${DEAD}-abcdefgh`;
    assert.equal(bytes(plain), 254);
    writeFileSync(join(dir, plain), "partial");
    await convertFile(SAMPLE, join(dir, name), { onWarning: silent });
    assert.deepEqual(readdirSync(dir), [name]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
