/**
 * Minimal Deno FFI bindings to real llama.cpp — the prebuilt libraries of the npm package
 * `@node-llama-cpp/linux-x64` (llama.cpp release v0.5.0) — for benches and the optional
 * load test: quantize a GGUF with `llama_model_quantize`, and load a GGUF and return the
 * logits of every position of a prompt.
 *
 * The package is fetched with `npm pack` into out/llama-cpp/ by {@linkcode llamaLibraryDir}
 * when asked to (benches only; tests never fetch). Struct layouts below are those of
 * `include/llama.h` at that release (sizes checked with `sizeof` against the header:
 * llama_model_params 80 bytes, llama_context_params 160, llama_batch 56,
 * llama_model_quantize_params 64).
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { LLAMA_FILE_TYPES } from "../src/model/file_type.ts";

/** The npm package holding the libraries, pinned. */
export const LLAMA_PACKAGE = "@node-llama-cpp/linux-x64@3.22.1";
/** Where the package is unpacked. */
export const LLAMA_DIR = "out/llama-cpp";

/**
 * llama.cpp's `llama_ftype` values by short name (`Q4_K_M` for `MOSTLY_Q4_K_M`, `F32` for
 * `ALL_F32`), from the project's one table of them.
 */
export const LLAMA_FTYPES: Record<string, number> = Object.fromEntries(
  Object.entries(LLAMA_FILE_TYPES).map(([id, name]) => [
    name.replace(/^(MOSTLY|ALL)_/, ""),
    Number(id),
  ]),
);

/**
 * The directory holding libllama, or why there is none. With `fetch`, the package is
 * downloaded and unpacked into {@linkcode LLAMA_DIR} when missing; without, only an
 * existing copy (or `LLAMA_LIB_DIR`) counts.
 */
export function llamaLibraryDir(fetch: boolean): { dir: string } | { unavailable: string } {
  const env = Deno.env.get("LLAMA_LIB_DIR");
  if (env !== undefined) return { dir: env };
  if (Deno.build.os !== "linux" || Deno.build.arch !== "x86_64") {
    return { unavailable: `no prebuilt llama.cpp for ${Deno.build.os}-${Deno.build.arch} here` };
  }
  const bins = `${LLAMA_DIR}/package/bins/linux-x64`;
  if (!existsSync(bins)) {
    if (!fetch) return { unavailable: `${bins} is absent (a bench fetches it: npm pack)` };
    mkdirSync(LLAMA_DIR, { recursive: true });
    const pack = spawnSync("npm", ["pack", LLAMA_PACKAGE, "--pack-destination", LLAMA_DIR], {
      encoding: "utf8",
    });
    const tarball = readdirSync(LLAMA_DIR).find((name) => name.endsWith(".tgz"));
    if (pack.status !== 0 || tarball === undefined) {
      return { unavailable: `npm pack ${LLAMA_PACKAGE} failed: ${pack.stderr.trim()}` };
    }
    const untar = spawnSync("tar", ["xzf", `${LLAMA_DIR}/${tarball}`, "-C", LLAMA_DIR], {
      encoding: "utf8",
    });
    if (untar.status !== 0) return { unavailable: `cannot unpack ${tarball}: ${untar.stderr}` };
  }
  return { dir: bins };
}

const SYMBOLS = {
  llama_backend_init: { parameters: [], result: "void" },
  llama_log_set: { parameters: ["pointer", "pointer"], result: "void" },
  llama_model_quantize_default_params: {
    parameters: [],
    result: { struct: Array(8).fill("u64") },
  },
  llama_model_quantize: { parameters: ["buffer", "buffer", "buffer"], result: "u32" },
  llama_model_default_params: { parameters: [], result: { struct: Array(10).fill("u64") } },
  llama_context_default_params: { parameters: [], result: { struct: Array(20).fill("u64") } },
  llama_model_load_from_file: {
    parameters: ["buffer", { struct: Array(10).fill("u64") }],
    result: "pointer",
  },
  llama_model_free: { parameters: ["pointer"], result: "void" },
  llama_init_from_model: {
    parameters: ["pointer", { struct: Array(20).fill("u64") }],
    result: "pointer",
  },
  llama_free: { parameters: ["pointer"], result: "void" },
  llama_model_get_vocab: { parameters: ["pointer"], result: "pointer" },
  llama_vocab_n_tokens: { parameters: ["pointer"], result: "i32" },
  llama_tokenize: {
    parameters: ["pointer", "buffer", "i32", "buffer", "i32", "bool", "bool"],
    result: "i32",
  },
  llama_decode: {
    parameters: ["pointer", {
      struct: ["i32", "pointer", "pointer", "pointer", "pointer", "pointer", "pointer"],
    }],
    result: "i32",
  },
  llama_get_logits: { parameters: ["pointer"], result: "pointer" },
} as const;

/** llama.cpp's log callback: (level, text, user data). */
const QUIET = { parameters: ["i32", "pointer", "pointer"], result: "void" } as const;

/** What {@linkcode Llama.logits} returns. */
export interface LlamaLogits {
  /** The prompt's token ids. */
  tokens: Int32Array;
  /** The vocabulary size. */
  vocab: number;
  /** `tokens.length × vocab` logits, position-major. */
  logits: Float32Array;
}

const cString = (s: string) => new TextEncoder().encode(s + "\0");

/** A loaded libllama. */
export class Llama {
  #lib: Deno.DynamicLibrary<typeof SYMBOLS>;
  #quiet: Deno.UnsafeCallback<typeof QUIET>;

  private constructor(dir: string) {
    const files = readdirSync(dir);
    const llama = files.find((file) => /^libllama(\.v[\d.]+)?\.so$/.test(file));
    const ggml = files.find((file) => /^libggml(\.v[\d.]+)?\.so$/.test(file));
    if (llama === undefined || ggml === undefined) throw new Error(`no libllama/libggml in ${dir}`);
    // The CPU backend is a separate library picked for this CPU: load it first.
    const backends = Deno.dlopen(`${dir}/${ggml}`, {
      ggml_backend_load_all_from_path: { parameters: ["buffer"], result: "void" },
    });
    this.#lib = Deno.dlopen(`${dir}/${llama}`, SYMBOLS);
    this.#quiet = new Deno.UnsafeCallback(QUIET, () => {});
    this.#lib.symbols.llama_log_set(this.#quiet.pointer, null);
    backends.symbols.ggml_backend_load_all_from_path(cString(dir));
    this.#lib.symbols.llama_backend_init();
  }

  /**
   * Opens libllama from {@linkcode llamaLibraryDir}, or says why it cannot.
   *
   * @param fetch Whether the package may be downloaded (benches yes, tests no).
   */
  static open(fetch: boolean): Llama | { unavailable: string } {
    const found = llamaLibraryDir(fetch);
    if ("unavailable" in found) return found;
    return new Llama(found.dir);
  }

  /**
   * Quantizes a GGUF with llama.cpp (`llama_model_quantize`, requantizing allowed), as
   * `llama-quantize --allow-requantize IN OUT FTYPE` does.
   *
   * @param input The source path.
   * @param output The path to write.
   * @param ftype A key of {@linkcode LLAMA_FTYPES}.
   * @param threads Threads (0: every core).
   * @param pure Every 2-D tensor in the file type's own type (`llama-quantize --pure`).
   * @returns Milliseconds taken.
   */
  quantize(input: string, output: string, ftype: string, threads = 0, pure = false): number {
    const id = LLAMA_FTYPES[ftype];
    if (id === undefined) throw new TypeError(`unknown llama ftype ${ftype}`);
    const lib = this.#lib.symbols;
    // llama_model_quantize_params: int32 nthread, int32 ftype, int32 output_tensor_type,
    // int32 token_embedding_type, bool allow_requantize (byte 16), …
    const params = new Uint8Array(lib.llama_model_quantize_default_params() as Uint8Array);
    const view = new DataView(params.buffer);
    view.setInt32(0, threads, true);
    view.setInt32(4, id, true);
    params[16] = 1;
    // pure (byte 19): every tensor in the file type's own type, no K-quant mixture.
    if (pure) params[19] = 1;
    const start = performance.now();
    const status = lib.llama_model_quantize(cString(input), cString(output), params);
    if (status !== 0) throw new Error(`llama_model_quantize(${ftype}) returned ${status}`);
    return performance.now() - start;
  }

  /**
   * Loads a GGUF model with llama.cpp and decodes `text` (tokenized by the model's own
   * vocabulary, BOS added) in one batch, returning the logits of every position.
   *
   * @param path The model.
   * @param text The prompt.
   * @param threads Threads for decoding.
   * @throws {Error} When llama.cpp cannot load the model or decode.
   */
  logits(path: string, text: string, threads = 2): LlamaLogits {
    const lib = this.#lib.symbols;
    const modelParams = new Uint8Array(lib.llama_model_default_params() as Uint8Array);
    const model = lib.llama_model_load_from_file(cString(path), modelParams);
    if (model === null) throw new Error(`llama.cpp cannot load ${path}`);
    try {
      const vocabPtr = lib.llama_model_get_vocab(model);
      const vocab = lib.llama_vocab_n_tokens(vocabPtr);
      const bytes = new TextEncoder().encode(text);
      const room = new Int32Array(bytes.length + 8);
      const count = lib.llama_tokenize(
        vocabPtr,
        bytes,
        bytes.length,
        room,
        room.length,
        true,
        false,
      );
      if (count <= 0) throw new Error(`llama_tokenize returned ${count}`);
      const tokens = room.slice(0, count);
      // llama_context_params: n_ctx @0, n_batch @4, n_ubatch @8, n_threads @28,
      // n_threads_batch @32 (llama.h, v0.5.0).
      const ctxParams = new Uint8Array(lib.llama_context_default_params() as Uint8Array);
      const cv = new DataView(ctxParams.buffer);
      const n = Math.max(64, count);
      cv.setUint32(0, n, true);
      cv.setUint32(4, n, true);
      cv.setUint32(8, n, true);
      cv.setInt32(28, threads, true);
      cv.setInt32(32, threads, true);
      const ctx = lib.llama_init_from_model(model, ctxParams);
      if (ctx === null) throw new Error(`llama_init_from_model failed for ${path}`);
      try {
        return { tokens, vocab, logits: this.#decode(ctx, tokens, vocab) };
      } finally {
        lib.llama_free(ctx);
      }
    } finally {
      lib.llama_model_free(model);
    }
  }

  #decode(ctx: Deno.PointerObject, tokens: Int32Array, vocab: number): Float32Array {
    const count = tokens.length;
    const pos = Int32Array.from({ length: count }, (_, i) => i);
    const nSeq = new Int32Array(count).fill(1);
    const seqZero = new Int32Array(1);
    const seqIds = new BigUint64Array(count).fill(
      BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(seqZero))),
    );
    const wantLogits = new Int8Array(count).fill(1);
    // llama_batch: int32 n_tokens @0, then token, embd, pos, n_seq_id, seq_id, logits
    // pointers @8…@48.
    const batch = new Uint8Array(56);
    const bv = new DataView(batch.buffer);
    bv.setInt32(0, count, true);
    const address = (a: ArrayBufferView) =>
      BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(a)));
    bv.setBigUint64(8, address(tokens), true);
    bv.setBigUint64(16, 0n, true);
    bv.setBigUint64(24, address(pos), true);
    bv.setBigUint64(32, address(nSeq), true);
    bv.setBigUint64(40, address(seqIds), true);
    bv.setBigUint64(48, address(wantLogits), true);
    const status = this.#lib.symbols.llama_decode(ctx, batch);
    if (status !== 0) throw new Error(`llama_decode returned ${status}`);
    const out = this.#lib.symbols.llama_get_logits(ctx);
    if (out === null) throw new Error("llama_get_logits returned NULL");
    const view = new Deno.UnsafePointerView(out);
    return new Float32Array(view.getArrayBuffer(count * vocab * 4).slice(0));
  }

  /** Unloads the library. */
  close(): void {
    this.#lib.close();
    this.#quiet.close();
  }
}
