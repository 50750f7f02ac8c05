/**
 * What a file output's commit promises whatever happens around it: an abort ends a write
 * that waits for ever, a name taken during the run is not written over without `force`,
 * a failure before the rename leaves the path as it was (a caller's callback included), a
 * directory that cannot be flushed after the rename is a warning, and a temporary that
 * cannot be removed does not hide the failure that came first.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { convertFile, GgufError } from "../mod.ts";
import { openGgufModel } from "../sources.ts";
import { writeConvertedModel } from "../pipeline.ts";
import { directorySync } from "../src/source/file_sink.ts";
import { PLATFORM } from "../src/runtime/current.ts";
import type { FileSystem } from "../src/runtime/platform.ts";

const SAMPLE = new URL("../samples/tiny-llama.gguf", import.meta.url);
const silent = () => {};

/** Runs `body` with a new directory, removed afterwards. */
async function inDirectory(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "gguf-commit-"));
  try {
    await body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("an abort ends a write that waits for ever, and the sink is aborted", async () => {
  const model = await openGgufModel(SAMPLE);
  const controller = new AbortController();
  let aborted = false;
  try {
    const writing = writeConvertedModel(
      model,
      () =>
        Promise.resolve({
          write: () => (setTimeout(() => controller.abort(), 10), new Promise<void>(() => {})),
          commit: () => Promise.resolve(),
          abort: () => (aborted = true, Promise.resolve()),
        }),
      { signal: controller.signal, onWarning: silent },
    );
    await assert.rejects(writing, (e: unknown) => e instanceof GgufError && e.code === "ABORTED");
    assert.ok(aborted, "the sink was not aborted");
  } finally {
    await model.close();
  }
});

test("a name taken while converting is not written over without force", async () => {
  await inDirectory(async (dir) => {
    const out = join(dir, "out.gguf");
    let created = false;
    await assert.rejects(
      convertFile(SAMPLE, out, {
        onWarning: silent,
        onProgress: () => {
          if (!created) writeFileSync(out, "someone else's");
          created = true;
        },
      }),
      (e: unknown) =>
        e instanceof GgufError && e.code === "OUTPUT_EXISTS" &&
        /created while converting/.test(e.message),
    );
    assert.equal(readFileSync(out, "utf8"), "someone else's");
    assert.deepEqual(readdirSync(dir), ["out.gguf"], "a temporary was left");
    // With force, the same race replaces it, as asked.
    created = false;
    rmSync(out);
    await convertFile(SAMPLE, out, {
      force: true,
      onWarning: silent,
      onProgress: () => {
        if (!created) writeFileSync(out, "someone else's");
        created = true;
      },
    });
    assert.equal(readFileSync(out).subarray(0, 4).toString(), "GGUF");
  });
});

test("a callback that throws before the rename leaves the path as it was", async () => {
  await inDirectory(async (dir) => {
    const out = join(dir, "out.gguf");
    await assert.rejects(
      convertFile(SAMPLE, out, {
        onWarning: silent,
        onSummary: () => {
          throw new Error("the caller's callback failed");
        },
      }),
      /the caller's callback failed/,
    );
    assert.deepEqual(readdirSync(dir), []);
  });
});

test("a directory that cannot be flushed after the rename is a warning, the output whole", async () => {
  await inDirectory(async (dir) => {
    const out = join(dir, "out.gguf");
    const original = directorySync.run;
    directorySync.run = () =>
      Promise.reject(new GgufError("IO", `Cannot flush the directory ${dir}: EIO`));
    const warnings: string[] = [];
    try {
      await convertFile(SAMPLE, out, { onWarning: (w) => warnings.push(w) });
    } finally {
      directorySync.run = original;
    }
    assert.equal(readFileSync(out).subarray(0, 4).toString(), "GGUF");
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.match(
      warnings[0],
      /out\.gguf is written, but the new name may not survive a power cut: .*EIO/,
    );
  });
});

test("a temporary that cannot be removed is warned of; the first failure is the error", async () => {
  await inDirectory(async (dir) => {
    const out = join(dir, "out.gguf");
    const platform = PLATFORM as { files?: FileSystem };
    const files = platform.files!;
    platform.files = {
      ...files,
      remove: () => Promise.reject(new Error("EPERM: operation not permitted")),
    };
    const warnings: string[] = [];
    try {
      await assert.rejects(
        convertFile(SAMPLE, out, {
          onWarning: (w) => warnings.push(w),
          onSummary: () => {
            throw new Error("the caller's callback failed");
          },
        }),
        /the caller's callback failed/,
      );
    } finally {
      platform.files = files;
    }
    assert.ok(!existsSync(out));
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.match(warnings[0], /^Cannot remove the temporary file .*out\.gguf.*EPERM/);
  });
});
