/**
 * A synthetic F32 llama that real llama.cpp loads and runs: seeded gaussian weights
 * (rows of 256 values and more, so every K type fits), RMS-norm weights near 1, and the
 * real 32 000-token SentencePiece vocabulary of `../shared/fixtures/real/ggml-vocab-llama-spm.gguf`
 * copied in. The source of the error table (error_table_bench.ts) and of the optional
 * llama.cpp load test.
 *
 *   deno run -A bench/_source_llama.ts OUT.gguf [--embd 512 --ff 1536 --layers 4]
 *
 * @module
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { type GgufArray, GgufValueType, readGguf } from "../mod.ts";
import { encodeGgufHeader, type TensorLayoutInput } from "../pipeline.ts";

/** The model's dimensions (vocabulary: the fixture's). */
export interface SourceLlamaConfig {
  embd: number;
  ff: number;
  layers: number;
  seed: number;
  /** Keep only the vocabulary's first tokens (default all 32 000), for tiny test models. */
  vocab?: number;
}

/** About 46 M parameters: embd 512, ff 1536, 4 layers, 32 000 tokens. */
export const SOURCE_LLAMA: SourceLlamaConfig = { embd: 512, ff: 1536, layers: 4, seed: 1 };

/** The vocabulary fixture. */
export const VOCAB_FIXTURE = new URL(
  "../../shared/fixtures/real/ggml-vocab-llama-spm.gguf",
  import.meta.url,
);

/** Seeded normal deviates (xorshift128 → Box–Muller), identical on every runtime. */
class Gaussian {
  #s = new Uint32Array(4);
  #spare: number | undefined;
  constructor(seed: number) {
    this.#s.set([seed >>> 0, 0x9e3779b9, 0x243f6a88, 0xb7e15162]);
    for (let i = 0; i < 16; i++) this.#next();
  }
  #next(): number {
    const s = this.#s;
    let t = s[3];
    t ^= t << 11;
    t ^= t >>> 8;
    s[3] = s[2];
    s[2] = s[1];
    s[1] = s[0];
    s[0] = t ^ s[0] ^ (s[0] >>> 19);
    return s[0];
  }
  #uniform(): number {
    return (this.#next() + 0.5) / 4294967296;
  }
  /** Fills `out` with N(0, sigma²) values. */
  fill(out: Float32Array, sigma: number): void {
    for (let i = 0; i < out.length; i++) {
      if (this.#spare !== undefined) {
        out[i] = this.#spare * sigma;
        this.#spare = undefined;
        continue;
      }
      const r = Math.sqrt(-2 * Math.log(this.#uniform()));
      const t = 2 * Math.PI * this.#uniform();
      out[i] = r * Math.cos(t) * sigma;
      this.#spare = r * Math.sin(t);
    }
  }
}

/** One tensor to write: its layout and how its values are drawn. */
interface SourceTensor extends TensorLayoutInput {
  /** Standard deviation of the gaussian; norms are 1 + N(0, sigma²). */
  sigma: number;
  norm: boolean;
}

function sourceTensors(config: SourceLlamaConfig, vocab: number): SourceTensor[] {
  const { embd, ff, layers } = config;
  const tensors: SourceTensor[] = [];
  const add = (name: string, shape: number[], sigma: number, norm = false) => {
    const nbytes = shape.reduce((a, b) => a * b, 1) * 4;
    tensors.push({ name, shape, type: 0, nbytes, sigma, norm });
  };
  // Fan-in scaling (sigma ≈ 1/√fan_in) keeps activations near unit size layer after layer.
  add("token_embd.weight", [embd, vocab], 0.02);
  for (let i = 0; i < layers; i++) {
    add(`blk.${i}.attn_norm.weight`, [embd], 0.05, true);
    add(`blk.${i}.attn_q.weight`, [embd, embd], 1 / Math.sqrt(embd));
    add(`blk.${i}.attn_k.weight`, [embd, embd], 1 / Math.sqrt(embd));
    add(`blk.${i}.attn_v.weight`, [embd, embd], 1 / Math.sqrt(embd));
    add(`blk.${i}.attn_output.weight`, [embd, embd], 1 / Math.sqrt(embd));
    add(`blk.${i}.ffn_norm.weight`, [embd], 0.05, true);
    add(`blk.${i}.ffn_gate.weight`, [embd, ff], 1 / Math.sqrt(embd));
    add(`blk.${i}.ffn_up.weight`, [embd, ff], 1 / Math.sqrt(embd));
    add(`blk.${i}.ffn_down.weight`, [ff, embd], 1 / Math.sqrt(ff));
  }
  add("output_norm.weight", [embd], 0.05, true);
  add("output.weight", [embd, vocab], 1 / Math.sqrt(embd));
  return tensors;
}

/**
 * Writes the F32 source llama to `path` and returns its parameter count.
 *
 * @param path Where to write (under out/).
 * @param config Dimensions and seed.
 */
export async function writeSourceLlama(
  path: string,
  config: SourceLlamaConfig = SOURCE_LLAMA,
): Promise<number> {
  if (config.embd % 256 !== 0 || config.ff % 256 !== 0) {
    throw new TypeError("embd and ff must be multiples of 256 (every K type must fit)");
  }
  const vocabFile = await readGguf(VOCAB_FIXTURE.pathname);
  const full = (vocabFile.metadata.get("tokenizer.ggml.tokens")!.value as { values: string[] })
    .values.length;
  const vocab = Math.min(full, config.vocab ?? full);
  // The first tokens are <unk>, <s>, </s> and the 256 byte tokens, so any prefix of 259
  // or more still tokenizes every text (SentencePiece falls back to bytes).
  const tokenizer = [...vocabFile.metadata.values()]
    .filter((entry) => entry.key.startsWith("tokenizer."))
    .map(({ key, type, value }) => {
      if (type !== GgufValueType.ARRAY || vocab === full) return { key, type, value };
      const array = value as GgufArray;
      return { key, type, value: { ...array, values: array.values.slice(0, vocab) } as GgufArray };
    });
  const heads = config.embd / 64;
  const u32 = (key: string, value: number) => ({ key, type: GgufValueType.UINT32, value });
  const tensors = sourceTensors(config, vocab);
  const header = encodeGgufHeader({
    alignment: 32,
    metadata: [
      { key: "general.architecture", type: GgufValueType.STRING, value: "llama" },
      { key: "general.name", type: GgufValueType.STRING, value: "gguf-stream source llama" },
      u32("general.file_type", 0),
      u32("llama.context_length", 2048),
      u32("llama.embedding_length", config.embd),
      u32("llama.feed_forward_length", config.ff),
      u32("llama.block_count", config.layers),
      u32("llama.attention.head_count", heads),
      u32("llama.attention.head_count_kv", heads),
      u32("llama.rope.dimension_count", 64),
      u32("llama.vocab_size", vocab),
      { key: "llama.attention.layer_norm_rms_epsilon", type: GgufValueType.FLOAT32, value: 1e-5 },
      ...tokenizer,
    ],
    tensors,
  });
  const random = new Gaussian(config.seed);
  const fd = openSync(path, "w");
  let parameters = 0;
  try {
    writeSync(fd, header.bytes);
    let written = header.dataOffset;
    const chunk = new Float32Array(1 << 20);
    tensors.forEach((tensor, i) => {
      const start = header.dataOffset + header.offsets[i];
      if (start > written) writeSync(fd, new Uint8Array(start - written));
      const count = tensor.nbytes / 4;
      parameters += count;
      for (let done = 0; done < count; done += chunk.length) {
        const piece = chunk.subarray(0, Math.min(chunk.length, count - done));
        random.fill(piece, tensor.sigma);
        if (tensor.norm) { for (let j = 0; j < piece.length; j++) piece[j] += 1; }
        writeSync(fd, new Uint8Array(piece.buffer, 0, piece.byteLength));
      }
      written = start + tensor.nbytes;
    });
    if (header.fileSize > written) writeSync(fd, new Uint8Array(header.fileSize - written));
  } finally {
    closeSync(fd);
  }
  return parameters;
}

if (import.meta.main) {
  const [out, ...rest] = Deno.args;
  if (out === undefined) {
    console.error("usage: _source_llama.ts OUT.gguf [--embd N --ff N --layers N --seed N]");
    Deno.exit(2);
  }
  const config = { ...SOURCE_LLAMA };
  for (let i = 0; i + 1 < rest.length; i += 2) {
    const key = rest[i].replace(/^--/, "") as keyof SourceLlamaConfig;
    config[key] = Number(rest[i + 1]);
  }
  console.log(`${await writeSourceLlama(out, config)} parameters`);
}
