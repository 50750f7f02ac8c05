/**
 * Standard output that fails under the text modes (`--plan`, `--json`, `--key`, `--dump`,
 * `--version`) as it does under `-o -`: a reader that exits early or a full device is one
 * `error: Cannot write to standard output: …` line and exit status 1 — no stack, nothing
 * after it. Run in child processes of the runtime running the test, through bash (its
 * pipes and `/dev/full`, as a user meets them); and in-process, `main()`'s `io.stdout`
 * contract: each write awaited before the next, a rejected one the run's error.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { main } from "../convert.ts";
import { GgufError } from "../mod.ts";
import { ROOT, runCliInBash } from "./_cli.ts";

const SAMPLE = join(ROOT, "samples", "tiny-llama.gguf");
const BASH = process.platform !== "win32" && existsSync("/bin/bash");
const FULL = existsSync("/dev/full") ? false : "this system has no /dev/full";
const NO_BASH = BASH ? false : "needs bash and its pipes";

/** One line saying standard output failed, and nothing else. */
const ONE_LINE = /^error: Cannot write to standard output: [^\n]+\n$/;
const BROKEN_PIPE = /EPIPE|Broken pipe/i;
const NO_SPACE = /ENOSPC|No space left/i;

/**
 * Runs the CLI in a child process of this runtime, its standard output going to `into`
 * (bash: `| head -c 10 > /dev/null`, `> /dev/full`, …); the CLI's own status and stderr.
 */
function cliInto(into: string, args: string[]): { status: number; stderr: string } {
  return runCliInBash(`"$@" ${into}; exit "\${PIPESTATUS[0]}"`, args);
}

test("text output into /dev/full is one error line and exit 1, as -o - is", {
  skip: NO_BASH || FULL,
  timeout: 60_000,
}, () => {
  const dir = mkdtempSync(join(tmpdir(), "gguf-stream-stdout-"));
  try {
    const binary = cliInto("> /dev/full", [SAMPLE, "-o", "-", "-q"]);
    assert.equal(binary.status, 1, binary.stderr);
    assert.match(binary.stderr, ONE_LINE);
    assert.match(binary.stderr, NO_SPACE);
    for (
      const args of [
        [SAMPLE, "--plan"],
        [SAMPLE, "--plan", "--json"],
        [SAMPLE, "--key", "general.name"],
        [SAMPLE, "--dump", "blk.0.attn_q.weight", "--json"],
        ["--version"],
        // The conversion's summary: the model is written, the summary cannot be.
        [SAMPLE, "-o", join(dir, "out.gguf"), "--json", "-q"],
      ]
    ) {
      const text = cliInto("> /dev/full", args);
      assert.equal(text.status, 1, `${args.join(" ")}: ${text.stderr}`);
      assert.equal(text.stderr, binary.stderr, args.join(" ")); // the same line, word for word
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("text output into a pipe whose reader has gone is one error line and exit 1", {
  skip: NO_BASH,
  timeout: 60_000,
}, () => {
  // `| true`: the reader is gone before the first write (the runtime takes longer to start).
  const binary = cliInto("| true", [SAMPLE, "-o", "-", "-q"]);
  assert.equal(binary.status, 1, binary.stderr);
  assert.match(binary.stderr, ONE_LINE);
  assert.match(binary.stderr, BROKEN_PIPE);
  for (const args of [[SAMPLE, "--key", "tokenizer.ggml.tokens"], [SAMPLE, "--plan"]]) {
    const text = cliInto("| true", args);
    assert.equal(text.status, 1, `${args.join(" ")}: ${text.stderr}`);
    assert.equal(text.stderr, binary.stderr, args.join(" "));
  }
  // `| head -c 10`: the reader takes 10 bytes of a dump larger than any pipe's buffer (2 MB
  // of text, 1 MiB buffer at most), then exits while the dump is being written.
  for (const json of [[], ["--json"]]) {
    const args = [SAMPLE, "--dump", "token_embd.weight", "--rows", "0:", ...json];
    const text = cliInto("| head -c 10 > /dev/null", args);
    assert.equal(text.status, 1, `${args.join(" ")}: ${text.stderr}`);
    assert.equal(text.stderr, binary.stderr, args.join(" "));
  }
});

test("a full standard error changes no run's status: 0 for a conversion, 1 for a bad model", {
  skip: NO_BASH || FULL,
  timeout: 60_000,
}, () => {
  const dir = mkdtempSync(join(tmpdir(), "gguf-stream-stderr-"));
  try {
    const out = join(dir, "out.gguf");
    // The summary, warnings and error lines have nowhere to go.
    const ok = cliInto(`2>/dev/full`, [SAMPLE, "-o", out]);
    assert.equal(ok.status, 0);
    assert.ok(existsSync(out));
    const bad = cliInto(`2>/dev/full`, [join(dir, "missing.gguf"), "-o", join(dir, "x.gguf")]);
    assert.equal(bad.status, 1);
    assert.deepEqual(readdirSync(dir), ["out.gguf"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("main() hands a long dump to io.stdout in pieces, each awaited before the next", async () => {
  let pending = 0;
  let most = 0;
  const pieces: string[] = [];
  const status = await main([SAMPLE, "--dump", "token_embd.weight", "--rows", "0:"], {
    async stdout(piece) {
      most = Math.max(most, ++pending);
      await new Promise((resolve) => setTimeout(resolve, 0));
      pieces.push(piece);
      pending--;
    },
    stderr: () => {},
  });
  assert.equal(status, 0);
  assert.equal(most, 1);
  assert.equal(pending, 0); // every write had ended when main() returned
  // 131_072 values, 2.2 MB of text: pieces of tens of kilobytes.
  assert.ok(pieces.length >= 16, `${pieces.length} pieces`);
  assert.ok(pieces.every((piece) => piece.length <= 256 * 1024));
  assert.match(pieces.join(""), /^token_embd\.weight: Q4_0, shape 256 x 512, rows 0:512 of 512 /);
});

test("main() stops at a rejected io.stdout write: its message, exit 1", async () => {
  for (const args of [[SAMPLE, "--plan"], [SAMPLE, "--dump", "token_embd.weight"], ["--help"]]) {
    let writes = 0;
    let stderr = "";
    const status = await main(args, {
      stdout: () => {
        writes++;
        return Promise.reject(
          new GgufError("IO", "Cannot write to standard output: the reader has gone"),
        );
      },
      stderr: (t) => (stderr += t),
    });
    assert.equal(status, 1, args.join(" "));
    assert.equal(writes, 1, args.join(" "));
    assert.equal(stderr, "error: Cannot write to standard output: the reader has gone\n");
  }
});
