#!/usr/bin/env -S deno run -A
/**
 * The gguf-stream command line: inspect a GGUF model and plan its conversion.
 *
 * ```sh
 * deno run -A convert.ts MODEL.gguf --plan [--json]
 * bun convert.ts MODEL.gguf --plan [--json]
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { GgufError } from "./src/errors.ts";
import { ggmlTypeByName } from "./src/ggml_type_traits.ts";
import { formatPlan, planToJson } from "./src/format_plan.ts";
import { toJsonText } from "./src/json_text.ts";
import { planConversion } from "./src/plan_conversion.ts";
import { readGguf } from "./src/read_gguf.ts";
import type { AccessMode } from "./src/source/open_source.ts";
import type { ConversionPolicy, Strategy } from "./src/strategy.ts";

/** The version printed by `--version`. */
export const VERSION = "0.1.0";

/** Where the CLI writes. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

const processIo: CliIo = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
};

/** The `--help` text. */
export const HELP = `gguf-stream ${VERSION}: inspect GGUF models and plan their conversion

Usage:
  deno run -A convert.ts MODEL.gguf [--plan] [--json] [options]
  bun convert.ts MODEL.gguf [--plan] [--json] [options]

Prints the model's header (version, byte order, alignment, metadata) and, for every
tensor, its type, shape and size and what conversion does with it: Q4_0 and Q8_0 stay
packed (view), K-quants become F32 (dequantize), F32 passes through, other types pass
through unchanged with a warning.

Options:
  --plan               print the summary and conversion plan (the default action)
  --json               print the plan as one JSON document instead of text
  --dequantize TYPES   dequantize these types to F32 (comma-separated, e.g. F16,Q8_0)
  --keep TYPES         keep these types as they are (packed view; F32 as is)
  --unsupported MODE   types no rule covers: warn (default, then pass through) or error
  --lenient            accept two defects ggml refuses: repeated metadata keys (first
                       wins) and blocks that run across rows
  --access MODE        auto (default: mmap where possible), mmap, or read
  -q, --quiet          no warnings
  -v, --verbose        notices, e.g. when mmap falls back to reads
  -h, --help           this help
  --version            print the version

Exit status: 0 on success, 1 on a bad or unreadable model (one "error: ..." line),
2 on bad usage.

Examples:
  deno run -A convert.ts model.gguf
  bun convert.ts model.gguf --plan --json > plan.json
  deno run -A convert.ts model.gguf --dequantize Q8_0 --keep Q6_K
`;

class UsageError extends Error {}

function parseTypeList(flag: string, value: string | undefined): string[] {
  if (value === undefined) return [];
  return value.split(",").map((name) => name.trim()).filter((name) => name !== "").map((name) => {
    const traits = ggmlTypeByName(name);
    if (traits === undefined) throw new UsageError(`${flag}: unknown ggml type "${name}"`);
    return traits.name;
  });
}

function buildPolicy(values: Record<string, string | boolean | undefined>): ConversionPolicy {
  const types: Record<string, Strategy> = {};
  for (const name of parseTypeList("--keep", values.keep as string | undefined)) {
    types[name] = name === "F32" ? "passthrough" : "view";
  }
  for (const name of parseTypeList("--dequantize", values.dequantize as string | undefined)) {
    if (name in types) throw new UsageError(`${name} is named by both --keep and --dequantize`);
    types[name] = "dequantize";
  }
  const unsupported = values.unsupported as string | undefined;
  if (unsupported !== undefined && unsupported !== "warn" && unsupported !== "error") {
    throw new UsageError(`--unsupported must be warn or error, not "${unsupported}"`);
  }
  return { types, unsupported: unsupported as "warn" | "error" | undefined };
}

/**
 * Runs the command line with `args` (without the program name).
 *
 * @param args The arguments, e.g. `["model.gguf", "--plan", "--json"]`.
 * @param io Where to write; the process's stdout and stderr by default.
 * @returns The exit status: 0 success, 1 bad input or I/O failure, 2 bad usage.
 *
 * @example
 * ```ts
 * import { main } from "./convert.ts";
 * import assert from "node:assert/strict";
 * let out = "";
 * const status = await main(["--version"], { stdout: (t) => (out += t), stderr: () => {} });
 * assert.equal(status, 0);
 * assert.match(out, /^gguf-stream \d/);
 * ```
 */
export async function main(args: string[], io: CliIo = processIo): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        plan: { type: "boolean" },
        json: { type: "boolean" },
        dequantize: { type: "string" },
        keep: { type: "string" },
        unsupported: { type: "string" },
        lenient: { type: "boolean" },
        access: { type: "string" },
        quiet: { type: "boolean", short: "q" },
        verbose: { type: "boolean", short: "v" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean" },
      },
    }));
  } catch (error) {
    io.stderr(`error: ${(error as Error).message}\nRun with --help for usage.\n`);
    return 2;
  }
  if (values.help) {
    io.stdout(HELP);
    return 0;
  }
  if (values.version) {
    io.stdout(`gguf-stream ${VERSION}\n`);
    return 0;
  }
  try {
    if (positionals.length !== 1) {
      throw new UsageError(positionals.length === 0 ? "no model given" : "give exactly one model");
    }
    const access = (values.access ?? "auto") as AccessMode;
    if (!["auto", "mmap", "read"].includes(access)) {
      throw new UsageError(`--access must be auto, mmap or read, not "${access}"`);
    }
    const policy = buildPolicy(values);
    const path = positionals[0];
    const warn = values.quiet ? () => {} : (message: string) => io.stderr(`warning: ${message}\n`);
    const file = await readGguf(path, {
      access,
      lenient: values.lenient === true,
      onNotice: values.verbose ? (message) => io.stderr(`note: ${message}\n`) : undefined,
    });
    const plan = planConversion(file, policy);
    const fallbacks = new Set(plan.filter((p) => p.fallback).map((p) => p.info.typeName));
    for (const type of fallbacks) {
      warn(`no rule covers ${type}; its tensors pass through unchanged`);
    }
    if (values.json) {
      io.stdout(toJsonText(planToJson(path, file, plan)) + "\n");
    } else {
      io.stdout(formatPlan(path, file, plan));
    }
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`error: ${error.message}\nRun with --help for usage.\n`);
      return 2;
    }
    if (error instanceof GgufError) {
      io.stderr(`error: ${error.message}\n`);
      return 1;
    }
    io.stderr(`error: unexpected failure: ${(error as Error)?.stack ?? error}\n`);
    return 1;
  }
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
