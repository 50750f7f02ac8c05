import assert from "node:assert/strict";
import { test } from "node:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { GgufError, readGguf } from "../mod.ts";
import { main } from "../convert.ts";
import { RUNTIME } from "../src/runtime/current.ts";
import { conformance } from "./_fixtures.ts";

const DUPKEY = join(
  import.meta.dirname!,
  "../../shared/fixtures/real/gguf-rs-test-le-v3-dupkey.gguf",
);

function capture() {
  const out = { stdout: "", stderr: "" };
  return {
    out,
    io: {
      stdout: (t: string) => void (out.stdout += t),
      stderr: (t: string) => void (out.stderr += t),
    },
  };
}

test("library errors name options, the CLI's name flags", conformance, async () => {
  const bytes = new Uint8Array(readFileSync(DUPKEY));
  await assert.rejects(readGguf(bytes), (e: unknown) => {
    assert.ok(e instanceof GgufError);
    assert.match(e.message, /option lenient: true/);
    assert.doesNotMatch(e.message, /--lenient/);
    return true;
  });
  const run = capture();
  assert.equal(await main([DUPKEY, "--plan"], run.io), 1);
  assert.match(run.out.stderr, /read leniently, --lenient, to/);
  assert.doesNotMatch(run.out.stderr, /lenient: true/);
});

test("--help shows the command the user ran", async () => {
  const asked = capture();
  assert.equal(await main(["--help"], { ...asked.io, program: "gguf-stream" }), 0);
  assert.match(asked.out.stdout, /^ {2}gguf-stream MODEL\.gguf -o OUT\.gguf/m);
  assert.match(asked.out.stdout, /^ {2}gguf-stream model\.gguf --plan --json/m);
  const own = capture();
  assert.equal(await main(["--help"], own.io), 0);
  const command = { deno: "deno run -A convert.ts", bun: "bun convert.ts" }[RUNTIME as string] ??
    "node convert.ts";
  assert.ok(own.out.stdout.includes(`\n  ${command} MODEL.gguf -o OUT.gguf`), own.out.stdout);
});
