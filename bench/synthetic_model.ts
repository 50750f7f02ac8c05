/**
 * Writes a synthetic llama-like GGUF model for benchmarks and the sample: random but
 * valid blocks with realistic half-precision scales. Most 2-D weights are Q4_K, attn_v
 * and ffn_down Q6_K, the token embedding Q4_0, the output Q6_K, norms F32 (a Q4_K_M-like
 * mix). Correctness is never judged on these files — only on ../shared/fixtures.
 *
 *   deno run -A bench/synthetic_model.ts OUT.gguf [--size-mb 330] [--seed 1]
 *   deno run -A bench/synthetic_model.ts OUT.gguf --embd 256 --ff 768 --vocab 1024 --layers 2
 */
import { closeSync, existsSync, mkdirSync, openSync, writeSync } from "node:fs";
import { parseArgs } from "node:util";
import { ggmlType, GgufValueType } from "../mod.ts";
import { encodeGgufHeader, type TensorLayoutInput } from "../pipeline.ts";
import { fillRandomBlocks, Random } from "./_blocks.ts";

/** The model's dimensions. */
export interface SyntheticConfig {
  embd: number;
  ff: number;
  vocab: number;
  layers: number;
  seed: number;
}

const Q4_0 = 2, Q4_K = 12, Q6_K = 14, F32 = 0;

/** The tensors of a llama-like model in llama.cpp's order. */
export function syntheticTensors(config: SyntheticConfig): TensorLayoutInput[] {
  const { embd, ff, vocab, layers } = config;
  const tensors: TensorLayoutInput[] = [];
  const add = (name: string, shape: number[], type: number) => {
    const elements = shape.reduce((a, b) => a * b, 1);
    const traits = ggmlType(type)!;
    const nbytes = (elements / traits.blockSize) * traits.bytesPerBlock;
    tensors.push({ name, shape, type, nbytes });
  };
  add("token_embd.weight", [embd, vocab], Q4_0);
  for (let i = 0; i < layers; i++) {
    add(`blk.${i}.attn_norm.weight`, [embd], F32);
    add(`blk.${i}.attn_q.weight`, [embd, embd], Q4_K);
    add(`blk.${i}.attn_k.weight`, [embd, embd], Q4_K);
    add(`blk.${i}.attn_v.weight`, [embd, embd], Q6_K);
    add(`blk.${i}.attn_output.weight`, [embd, embd], Q4_K);
    add(`blk.${i}.ffn_norm.weight`, [embd], F32);
    add(`blk.${i}.ffn_gate.weight`, [embd, ff], Q4_K);
    add(`blk.${i}.ffn_up.weight`, [embd, ff], Q4_K);
    add(`blk.${i}.ffn_down.weight`, [ff, embd], Q6_K);
  }
  add("output_norm.weight", [embd], F32);
  add("output.weight", [embd, vocab], Q6_K);
  return tensors;
}

/** Writes the model to `path`, streaming tensor data in chunks. Returns its size. */
export function writeSyntheticModel(path: string, config: SyntheticConfig): number {
  const tensors = syntheticTensors(config);
  const tokens = Array.from({ length: config.vocab }, (_, i) => `tok${i}`);
  const header = encodeGgufHeader({
    alignment: 32,
    metadata: [
      { key: "general.architecture", type: GgufValueType.STRING, value: "llama" },
      { key: "general.name", type: GgufValueType.STRING, value: "gguf-stream synthetic" },
      { key: "llama.context_length", type: GgufValueType.UINT32, value: 2048 },
      { key: "llama.embedding_length", type: GgufValueType.UINT32, value: config.embd },
      { key: "llama.feed_forward_length", type: GgufValueType.UINT32, value: config.ff },
      { key: "llama.block_count", type: GgufValueType.UINT32, value: config.layers },
      { key: "llama.attention.head_count", type: GgufValueType.UINT32, value: config.embd / 64 },
      { key: "llama.attention.layer_norm_rms_epsilon", type: GgufValueType.FLOAT32, value: 1e-5 },
      { key: "general.file_type", type: GgufValueType.UINT32, value: 15 },
      { key: "tokenizer.ggml.model", type: GgufValueType.STRING, value: "llama" },
      {
        key: "tokenizer.ggml.tokens",
        type: GgufValueType.ARRAY,
        value: { elementType: GgufValueType.STRING, values: tokens },
      },
      {
        key: "tokenizer.ggml.scores",
        type: GgufValueType.ARRAY,
        value: { elementType: GgufValueType.FLOAT32, values: new Float32Array(config.vocab) },
      },
    ],
    tensors,
  });
  const random = new Random(config.seed);
  const fd = openSync(path, "w");
  try {
    writeSync(fd, header.bytes);
    let written = header.dataOffset;
    const chunk = new Uint8Array(1 << 22);
    tensors.forEach((tensor, i) => {
      const start = header.dataOffset + header.offsets[i];
      if (start > written) writeSync(fd, new Uint8Array(start - written));
      const unit = ggmlType(tensor.type)!.bytesPerBlock;
      const step = Math.floor(chunk.length / (unit * 4)) * unit * 4;
      for (let done = 0; done < tensor.nbytes; done += step) {
        const piece = chunk.subarray(0, Math.min(step, tensor.nbytes - done));
        fillRandomBlocks(piece, ggmlType(tensor.type)!, random);
        writeSync(fd, piece);
      }
      written = start + tensor.nbytes;
    });
    if (header.fileSize > written) writeSync(fd, new Uint8Array(header.fileSize - written));
  } finally {
    closeSync(fd);
  }
  return header.fileSize;
}

/** Picks the layer count that brings the default dimensions closest to `sizeMb`. */
export function configForSize(sizeMb: number, seed = 1): SyntheticConfig {
  const base = { embd: 2048, ff: 5632, vocab: 32000, layers: 0, seed };
  const bytes = (c: SyntheticConfig) => syntheticTensors(c).reduce((a, t) => a + t.nbytes, 0);
  const fixed = bytes(base);
  const perLayer = bytes({ ...base, layers: 1 }) - fixed;
  return { ...base, layers: Math.max(1, Math.round((sizeMb * 1e6 - fixed) / perLayer)) };
}

/**
 * The path of the synthetic model of `sizeMb` in out/, written there on first use.
 */
export function ensureSyntheticModel(sizeMb: number, dir = "out"): string {
  const path = `${dir}/bench-${sizeMb}.gguf`;
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true });
    writeSyntheticModel(path, configForSize(sizeMb));
  }
  return path;
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: {
      "size-mb": { type: "string" },
      seed: { type: "string" },
      embd: { type: "string" },
      ff: { type: "string" },
      vocab: { type: "string" },
      layers: { type: "string" },
    },
  });
  if (positionals.length !== 1) {
    process.stderr.write(
      "usage: synthetic_model.ts OUT.gguf [--size-mb N] [--seed N] [--embd --ff --vocab --layers]\n",
    );
    process.exit(2);
  }
  const seed = Number(values.seed ?? 1);
  const config = values.layers !== undefined
    ? {
      embd: Number(values.embd ?? 256),
      ff: Number(values.ff ?? 768),
      vocab: Number(values.vocab ?? 1024),
      layers: Number(values.layers),
      seed,
    }
    : configForSize(Number(values["size-mb"] ?? 330), seed);
  const size = writeSyntheticModel(positionals[0], config);
  process.stdout.write(`${positionals[0]}: ${size} bytes, ${JSON.stringify(config)}\n`);
}
