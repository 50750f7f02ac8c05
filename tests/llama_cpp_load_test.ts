/**
 * Optional: gguf-stream's outputs load and run in real llama.cpp (node-llama-cpp's prebuilt
 * libraries through Deno FFI). Skipped, with the reason, under Bun and Node, on other
 * platforms, and wherever out/llama-cpp/ does not hold the libraries (a test never
 * downloads them: `deno run -A bench/error_table_bench.ts` does, or set LLAMA_LIB_DIR).
 * CI does not depend on it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { convertFile, readGguf } from "../mod.ts";
import { policyFromFlags } from "../src/cli/policy_from_flags.ts";
import { quantizableTypes } from "../src/convert/kernels.ts";

const deno = (globalThis as { Deno?: typeof Deno }).Deno;
const LIBS = "out/llama-cpp/package/bins/linux-x64";

function missing(): string | false {
  if (deno === undefined) return "llama.cpp is reached through Deno's FFI only";
  if (deno.env.get("LLAMA_LIB_DIR") !== undefined) return false;
  if (deno.build.os !== "linux" || deno.build.arch !== "x86_64") {
    return `no prebuilt llama.cpp for ${deno.build.os}-${deno.build.arch}`;
  }
  if (!existsSync(LIBS)) {
    return `${LIBS} is absent (deno run -A bench/error_table_bench.ts fetches it)`;
  }
  return false;
}

const PROMPT = "A small test of the converted model.";

for (const [ftype, typeName] of [["Q4_K_M", "Q4_K"], ["IQ4_XS", "IQ4_XS"]]) {
  test(`outputs of llama.cpp's ${ftype} load and decode in llama.cpp`, {
    skip: missing(),
  }, () => loadsAndDecodes(ftype, typeName));
}

async function loadsAndDecodes(ftype: string, typeName: string): Promise<void> {
  const { Llama } = await import("../bench/_llama_ffi.ts");
  const { writeSourceLlama } = await import("../bench/_source_llama.ts");
  const llama = Llama.open(false);
  if ("unavailable" in llama) throw new Error(llama.unavailable);
  const dir = await deno!.makeTempDir({ prefix: "gguf-stream-llama-" });
  try {
    const original = `${dir}/f32.gguf`, source = `${dir}/source-${ftype}.gguf`;
    await writeSourceLlama(original, { embd: 256, ff: 512, layers: 1, seed: 3, vocab: 512 });
    llama.quantize(original, source, ftype, 1);
    assert.ok((await readGguf(source)).tensors.some((t) => t.typeName === typeName));

    const exact = `${dir}/exact.gguf`;
    await convertFile(source, exact, { policy: { target: ["F32"] }, threads: 1 });
    const reference = llama.logits(exact, PROMPT, 1);
    assert.equal(reference.logits.length, reference.tokens.length * 512);
    assert.ok(reference.logits.every(Number.isFinite), "F32 conversion: finite logits");
    assert.ok(reference.logits.some((x) => x !== 0));

    // Each type the library's policy accepts for requantize (more arrive with the options).
    const tested: string[] = [];
    for (const type of quantizableTypes()) {
      let policy;
      try {
        policy = policyFromFlags({ requantize: type, target: `${type},F32` });
      } catch {
        continue;
      }
      const out = `${dir}/${type}.gguf`;
      await convertFile(source, out, { policy, threads: 1 });
      const written = await readGguf(out);
      assert.ok(written.tensors.some((t) => t.typeName === type), `${type} written`);
      const { logits } = llama.logits(out, PROMPT, 1);
      assert.equal(logits.length, reference.logits.length, type);
      let diff = 0, size = 0;
      for (let i = 0; i < logits.length; i++) {
        assert.ok(Number.isFinite(logits[i]), `${type}: finite logits`);
        diff += (logits[i] - reference.logits[i]) ** 2;
        size += reference.logits[i] ** 2;
      }
      // Relative RMS shift of the logits, measured on this model with every 2-D tensor
      // requantized: Q8_0 0.02, Q4_K 0.13, Q4_0 0.26, Q3_K 0.45, Q2_K 0.85; logits of an
      // unrelated model (a model llama.cpp misreads) about 1.4.
      const shift = Math.sqrt(diff / size);
      assert.ok(shift < 1, `${type}: logits move by ${shift} (relative RMS)`);
      tested.push(type);
    }
    assert.ok(tested.includes("Q8_0") && tested.includes("Q4_0"), `tested ${tested}`);
  } finally {
    llama.close();
    await deno!.remove(dir, { recursive: true });
  }
}
