import assert from "node:assert/strict";
import { test } from "node:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { GgufError, readGguf } from "../mod.ts";
import { main } from "../convert.ts";
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
