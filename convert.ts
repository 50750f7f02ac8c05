#!/usr/bin/env -S deno run -A
/**
 * The gguf-stream command line: inspect a GGUF model, plan its conversion, and write
 * the converted model.
 *
 * ```sh
 * deno run -A convert.ts MODEL.gguf -o OUT.gguf
 * bun convert.ts MODEL.gguf --plan [--json]
 * ```
 *
 * @module
 */
import { isatty } from "node:tty";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { toJsonText } from "./src/cli/json_text.ts";
import { parseByteCount } from "./src/cli/byte_count.ts";
import { type CliIo, openInput, runConversion, SIGNALS } from "./src/cli/run_conversion.ts";
import { usageMessage } from "./src/cli/suggest_flag.ts";
import { flagConflict, type FlagToken } from "./src/cli/flag_conflicts.ts";
import { GgufError } from "./src/model/errors.ts";
import { cliMessage, messageLine, shownInput } from "./src/cli/cli_message.ts";
import { escapeText } from "./src/model/escape_text.ts";
import type { ConversionPolicy } from "./src/model/conversion.ts";
import { profilesHelp } from "./src/cli/profiles_help.ts";
import type { AccessMode } from "./src/source/open_source.ts";
import { DEFAULT_IDLE_TIMEOUT, MAX_IDLE_TIMEOUT } from "./src/source/idle_fetch.ts";
import { availableCores, PLATFORM, RUNTIME } from "./src/runtime/current.ts";
import type { ByteSink } from "./src/model/byte_sink.ts";
import { stdoutSink } from "./src/source/stdio.ts";
import { type StartedStdioWorker, startStdioWorker } from "./src/output/stdio_conversion.ts";

/** The version printed by `--version`. */
export const VERSION = "0.1.0";

export type { CliIo };

let stdoutBytes: ByteSink | undefined;
let stderrGuarded = false;
const utf8 = new TextEncoder();

const processIo: CliIo = {
  // As `-o -` writes: by descriptor, each write awaited until the system has it; a reader
  // gone or a full disk is a GgufError (IO), never an unhandled stream error.
  stdout: (text) => (stdoutBytes ??= stdoutSink()).write(utf8.encode(text)),
  stderr: (text) => {
    // A failing standard error (closed, a full disk) has nowhere to be told: what it would
    // have said is dropped, and the run's status stays what the run was.
    if (!stderrGuarded) {
      stderrGuarded = true;
      process.stderr.on("error", () => {});
    }
    try {
      process.stderr.write(text);
    } catch {
      // As above.
    }
  },
};

/**
 * The `--help` text, its usage lines and examples written with the command the user ran.
 *
 * @param program How the CLI was started: `deno run -A convert.ts`, `bun convert.ts`,
 *   `node convert.ts` or `gguf-stream` (the npm package's command).
 * @returns The text.
 *
 * @example
 * ```ts
 * import { helpText } from "gguf-stream/convert";
 * import assert from "node:assert/strict";
 * assert.match(helpText("gguf-stream"), /^  gguf-stream MODEL\.gguf -o OUT\.gguf/m);
 * ```
 */
export function helpText(program: string): string {
  const p = program;
  const idle = DEFAULT_IDLE_TIMEOUT / 1000;
  return `gguf-stream ${VERSION}: convert GGUF models for the types a runtime loads

Usage:
  ${p} MODEL.gguf -o OUT.gguf [options]      convert
  ${p} MODEL.gguf [--plan] [--json]          inspect and plan
  ${p} MODEL.gguf --key KEY [--key KEY]      print metadata values as JSON
  ${p} MODEL.gguf --dump TENSOR [--rows A:B] [--json]   print values
  ${p} - -o - < IN.gguf > OUT.gguf           stdin to stdout, one pass
The same CLI runs as deno run -A convert.ts, bun convert.ts, node convert.ts (Node >= 22.18)
from a checkout, and as gguf-stream from the installed package (Node >= 20.16).

Tensors whose type the consuming runtime loads (the target, by default Q4_0, Q8_0 and
F32) are kept as they are. Every other tensor whose type has a kernel is converted into
the target: dequantized to F32 (exact, as ggml's to_float), or with --requantize into a
quantized type (as llama-quantize --allow-requantize writes it; rows a type cannot hold
fall back as llama.cpp's do, and the plan says to what), transcoded block to block where
a transcoder exists (--method best). --for RUNTIME targets what that runtime loads and
picks per tensor the smallest type within --max-error. The summary gives bits per weight
in and out and the relative error measured on the output. Types with no kernel (the
integer types, F64, Q8_1, Q8_K) are kept with a warning. The output is a GGUF v3 file
with the same metadata (general.file_type describing the output) and tensors, written
through a temporary file beside OUT and renamed into place only when complete. A split
model (NAME-00001-of-0000N.gguf) is read across its parts and written as one file; name
its first part: a part on standard input is refused, as the others are found by name.
Without -o, prints the header (version, byte order, alignment, metadata) and the plan.
MODEL "-" reads standard input in one pass (tensor data must be in index order); OUT "-"
writes standard output (a failed conversion leaves it short: check the exit status).
MODEL and OUT may be file:// URLs. MODEL may be an http(s):// URL (the first part's, for
a split model): --plan, --key and --dump fetch only the bytes they need by Range
requests; -o fetches the file once. A server that sends nothing for ${idle} s
(--idle-timeout) is retried, then given up on.

Options:
  -o, --output OUT     write the converted model to OUT ("-": standard output)
  --force              replace OUT if it exists
  --plan               print the header and the plan, write nothing (the default
                       without -o)
  --json               print the plan (or --dump's values: NaN and infinities as null,
                       which JSON has no numbers for) as one JSON document; with -o OUT,
                       the conversion's summary
  --key KEY            print metadata value(s) as one JSON object {KEY: value} and
                       nothing else (repeatable; a missing key exits 1)
  --dump TENSOR        print a tensor's values, dequantized to float32, bit-exact
  --rows A:B           the rows --dump prints (A:B, A:, :B or A; default 0:4)
  --target TYPES       the types the runtime loads, kept as they are (comma-separated;
                       default Q4_0,Q8_0,F32)
  --requantize TYPE    convert other types to TYPE (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
                       Q2_K..Q6_K, IQ4_NL, IQ4_XS, MXFP4, F16, BF16: must be in the
                       target) instead of dequantizing them to F32; auto: per tensor,
                       the target type with the fewest bits per weight within --max-error
  --method M           best (default: transcode block to block where possible, else
                       ggml's quantizer) or reference (ggml's quantizers only: the
                       bytes llama-quantize writes)
  --max-error E        for --requantize auto: the largest relative RMS error per
                       tensor (default 0.01); measured before writing (a one-pass
                       stream input follows a rule per type instead)
  --for RUNTIME        target what RUNTIME loads (candle, mistral.rs, mlx, llama.cpp,
                       q4q8) with --requantize auto unless given; --for help lists them
  --keep TYPES         keep these types as they are, whatever the target (e.g. F16)
  --dequantize TYPES   dequantize these types to F32, whatever the target (e.g. Q8_0)
  --unsupported MODE   types outside the target with no kernel: warn (default; kept
                       as they are) or error
  --lenient            accept defects ggml refuses: repeated metadata keys (first
                       wins), an empty key, tensor names of 64 bytes or more or equal
                       up to a NUL, blocks that run across rows, tensor data with gaps
                       or out of index order, general.alignment not stored as UINT32,
                       split.* keys of other integer types than llama.cpp's
  --max-header-memory BYTES
                       the most memory the parsed header may take (default 64M;
                       e.g. 268435456, 256M, 1G); a larger header is refused
  --access MODE        auto (default: mmap where possible; --key and --dump read by
                       position), mmap, or read
  --idle-timeout SECONDS
                       for a URL: how long a server may send nothing (no answer,
                       no byte of the body) before the request fails as a reset one
                       does: retried, then an error (default ${idle}; 0: no limit); a
                       slow but steady download is never cut off
  --threads N          threads converting, this one included; the output is the same
                       for any N (default: every core, ${availableCores()} here, less one for the
                       writes unless requantizing; 1 below 16 Mi values to convert)
  --progress           show a progress bar on stderr (default when stderr is a terminal)
  -q, --quiet          no warnings, progress or summary
  -v, --verbose        notices (mmap falling back to reads) and where a conversion's
                       time went (converting, waiting on writes, flushes, rename)
  -h, --help           this help
  --version            print the version

OUT is checked before anything is read: a directory, a device, a FIFO, a dangling link
or a missing directory is refused; a link to a file writes that file. Temporaries left
by a killed run (.OUT.tmp-PID-*, or .START.tmp~DIGEST-PID-* for a name of over 230
bytes: its first bytes and a digest of it) are removed by the next run for the same OUT.

Exit status: 0 on success, 1 on a bad or unreadable model, a bad output path or an
I/O failure (one "error: ..." line), 2 on bad usage, 128 + the signal's number when
interrupted (129 SIGHUP, 130 SIGINT, 143 SIGTERM; OUT is left as it was, no temporary
remains).

Examples:
  ${p} model.Q4_K_M.gguf -o model.converted.gguf
  ${p} model.gguf --plan --json > plan.json
  ${p} model.Q4_K_M.gguf -o model.q8.gguf --requantize Q8_0
  ${p} model.gguf -o out.gguf --target Q4_0,Q8_0,F16,F32
  ${p} model.IQ4_XS.gguf -o model.candle.gguf --for candle
  ${p} model.gguf -o out.gguf --target Q4_K,F32 --requantize Q4_K --method reference
  ${p} model.gguf -o out.gguf --dequantize Q8_0 --keep Q6_K
  ${p} llama-00001-of-00003.gguf -o llama.gguf
  ${p} https://example.com/model.gguf --key general.architecture
  ${p} model.gguf --dump token_embd.weight --rows 7 --json
`;
}

/** How this process was started, for the help text (the npm bin says so itself). */
function invokedAs(): string {
  if (RUNTIME === "deno") return "deno run -A convert.ts";
  if (RUNTIME === "bun") return "bun convert.ts";
  return "node convert.ts";
}

/** The `--help` text as run from a checkout under Deno. */
export const HELP: string = helpText("deno run -A convert.ts");

class UsageError extends Error {}

/** `text` itself, or for a `file:` URL the path it names; a malformed one is a usage error. */
function fileUrlPath(text: string, what: string): string {
  if (!/^file:/i.test(text)) return text;
  try {
    return fileURLToPath(text);
  } catch (error) {
    throw new UsageError(
      `${what} ${text} is not a file URL of a path here: ${(error as Error).message}`,
    );
  }
}

/**
 * Runs the command line with `args` (without the program name).
 *
 * @param args The arguments, e.g. `["model.gguf", "--plan", "--json"]`.
 * @param io Where to write; the process's stdout and stderr by default. A promise that
 *   `io.stdout` returns is awaited before the next write, and its rejection is the run's
 *   error (see {@linkcode CliIo}).
 * @returns The exit status: 0 success, 1 bad input or I/O failure, 2 bad usage, 130 when
 *   aborted (`ABORTED`); the CLI exits 128 + n on signal n.
 *
 * @example
 * ```ts
 * import { main } from "gguf-stream/convert";
 * import assert from "node:assert/strict";
 * let out = "";
 * const status = await main(["--version"], { stdout: (t) => (out += t), stderr: () => {} });
 * assert.equal(status, 0);
 * assert.match(out, /^gguf-stream \d/);
 * ```
 */
export async function main(args: string[], io: CliIo = processIo): Promise<number> {
  let values: Record<string, string | boolean | string[] | undefined>;
  let positionals: string[];
  let tokens: FlagToken[];
  try {
    ({ values, positionals, tokens } = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      tokens: true,
      options: {
        output: { type: "string", short: "o" },
        force: { type: "boolean" },
        progress: { type: "boolean" },
        plan: { type: "boolean" },
        json: { type: "boolean" },
        key: { type: "string", multiple: true },
        dump: { type: "string" },
        rows: { type: "string" },
        target: { type: "string" },
        requantize: { type: "string" },
        method: { type: "string" },
        "max-error": { type: "string" },
        for: { type: "string" },
        dequantize: { type: "string" },
        keep: { type: "string" },
        unsupported: { type: "string" },
        lenient: { type: "boolean" },
        "max-header-memory": { type: "string" },
        access: { type: "string" },
        "idle-timeout": { type: "string" },
        threads: { type: "string" },
        quiet: { type: "boolean", short: "q" },
        verbose: { type: "boolean", short: "v" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean" },
      },
    }));
  } catch (error) {
    // The flags the help names are the ones to suggest.
    const flags = [...new Set([...HELP.matchAll(/--([a-z][a-z-]*)/g)].map((m) => m[1]))];
    io.stderr(`error: ${messageLine(usageMessage(error, flags))}\nRun with --help for usage.\n`);
    return 2;
  }
  const conflict = values.help || values.version ? undefined : flagConflict(values, tokens);
  if (conflict !== undefined) {
    io.stderr(`error: ${messageLine(conflict)}\nRun with --help for usage.\n`);
    return 2;
  }
  // A pipe into a pipe converts on a worker thread: started now, it loads its modules
  // while this thread loads the ones the flags need. Ended below if it goes unused.
  const worker = positionals[0] === "-" && values.output === "-" && !values.plan &&
      !values.help && !values.version
    ? startStdioWorker()
    : undefined;
  try {
    return await run(values, positionals, io, worker);
  } finally {
    worker?.cancel();
  }
}

/** {@linkcode main} after its flags are parsed. */
async function run(
  values: Record<string, string | boolean | string[] | undefined>,
  positionals: string[],
  io: CliIo,
  worker: StartedStdioWorker | undefined,
): Promise<number> {
  try {
    if (values.help) {
      await io.stdout(helpText(io.program ?? invokedAs()));
      return 0;
    }
    if (values.version) {
      await io.stdout(`gguf-stream ${VERSION}\n`);
      return 0;
    }
    if (typeof values.for === "string" && values.for.trim().toLowerCase() === "help") {
      await io.stdout(profilesHelp()); // needs no model
      return 0;
    }
    if (positionals.length !== 1) {
      throw new UsageError(positionals.length === 0 ? "no model given" : "give exactly one model");
    }
    const access = (values.access ?? "auto") as AccessMode;
    if (!["auto", "mmap", "read"].includes(access)) {
      throw new UsageError(`--access must be auto, mmap or read, not "${access}"`);
    }
    let policy: ConversionPolicy;
    // The kernels' registry and all it reaches: loaded only once the flags ask for it.
    const { policyFromFlags } = await import("./src/cli/policy_from_flags.ts");
    try {
      const flags = values as Record<string, string | undefined>;
      policy = policyFromFlags({ ...flags, maxError: flags["max-error"] });
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    // A file: URL names the file it points to (as a URL object does in the library).
    const input = fileUrlPath(positionals[0], "MODEL");
    const output = values.output === undefined
      ? undefined
      : fileUrlPath(values.output as string, "-o");
    const quiet = values.quiet === true;
    const warn = quiet
      ? () => {}
      : (message: string) => io.stderr(`warning: ${messageLine(cliMessage(message))}\n`);
    const notice = (message: string) => io.stderr(`note: ${messageLine(message)}\n`);
    const headerMemory = values["max-header-memory"] as string | undefined;
    const maxHeaderMemory = headerMemory === undefined ? undefined : parseByteCount(headerMemory);
    if (Number.isNaN(maxHeaderMemory)) {
      throw new UsageError(
        `--max-header-memory takes a byte count (64M, 1G), not "${headerMemory}"`,
      );
    }
    const threadsFlag = values.threads as string | undefined;
    const threads = threadsFlag === undefined ? undefined : Number(threadsFlag);
    if (threads !== undefined && (!/^\d+$/.test(threadsFlag!) || threads < 1 || threads > 1024)) {
      throw new UsageError(`--threads takes a number of threads (1 to 1024), not "${threadsFlag}"`);
    }
    const idleFlag = values["idle-timeout"] as string | undefined;
    const idleTimeout = idleFlag === undefined ? undefined : Math.round(Number(idleFlag) * 1000);
    if (
      idleTimeout !== undefined &&
      (!/^\d+(\.\d+)?$/.test(idleFlag!) || idleTimeout > MAX_IDLE_TIMEOUT ||
        // A value that rounds to 0 ms would mean "no limit": the opposite of what was asked.
        (idleTimeout === 0 && Number(idleFlag) !== 0))
    ) {
      throw new UsageError(
        `--idle-timeout takes seconds (30, 2.5; 0 for no limit, else from 0.001 to ${
          Math.floor(MAX_IDLE_TIMEOUT / 1000)
        }), not "${idleFlag}"`,
      );
    }
    const open = {
      access,
      lenient: values.lenient === true,
      maxHeaderMemory,
      idleTimeout,
      onNotice: values.verbose ? notice : undefined,
    };
    let inspect;
    const inspecting = values.key !== undefined || values.dump !== undefined ||
      values.rows !== undefined;
    const inspection = inspecting ? await import("./src/cli/inspect_command.ts") : undefined;
    try {
      inspect = inspection?.inspectRequest(values);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    if (inspect !== undefined) {
      // --key and --dump read a few ranges, copied: a mapping would add only its setup and,
      // under Bun, a whole-file mapping counts toward the heap its collector paces itself by,
      // so a long dump's garbage would pile up in proportion to the model.
      const model = await openInput(
        input,
        { ...open, access: access === "auto" ? "read" : access },
        notice,
      );
      try {
        // Piece by piece, each written before the next is made: a dump of any length.
        for await (const text of inspection!.inspectModel(model, inspect)) await io.stdout(text);
      } finally {
        await model.close();
      }
      return 0;
    }
    if (values.json && output === "-" && !values.plan) {
      throw new UsageError(
        "--json prints the summary on standard output, which -o - writes the model to",
      );
    }
    if (output === undefined || values.plan) {
      const [
        { formatPlan, planToJson },
        { conversionWarnings, planConversion },
        { resolvePolicy },
        { chooseAutoTypes },
        { DEFAULT_CHUNK_BYTES },
      ] = await Promise.all([
        import("./src/cli/format_plan.ts"),
        import("./src/convert/plan.ts"),
        import("./src/convert/policy.ts"),
        import("./src/convert/choose_auto.ts"),
        import("./src/convert/tensor_chunks.ts"),
      ]);
      const model = await openInput(input, open, notice);
      try {
        const resolved = resolvePolicy(policy);
        const plan = planConversion(model, resolved);
        await chooseAutoTypes(model, plan, resolved, { chunkBytes: DEFAULT_CHUNK_BYTES });
        for (const message of conversionWarnings(plan, policy)) warn(message);
        const header = {
          ...model.parts[0].header,
          metadata: model.metadata,
          tensors: model.tensors,
        };
        const shown = shownInput(input);
        if (values.json) await io.stdout(toJsonText(planToJson(shown, header, plan)) + "\n");
        else {
          const bytes = model.parts.reduce((sum, part) => sum + (part.header.fileSize ?? 0), 0);
          await io.stdout(formatPlan(shown, header, plan, { count: model.parts.length, bytes }));
        }
      } finally {
        await model.close();
      }
      return 0;
    }
    // isatty(), not process.stdout.isTTY: that would make a pipe non-blocking (Bun, Node).
    if (output === "-" && isatty(1)) {
      throw new UsageError(
        "refusing to write a binary model to a terminal; redirect standard output (-o - > OUT.gguf)",
      );
    }
    return await runConversion(input, output, {
      ...open,
      remote: "stream", // a URL is fetched once, not by ranges
      policy,
      threads,
      quiet,
      json: values.json === true,
      force: values.force === true,
      verbose: values.verbose === true,
    }, {
      io,
      warn,
      notice,
      progress: !quiet && (values.progress === true || process.stderr.isTTY === true),
      worker,
    });
  } catch (error) {
    // Messages may quote a model's names: escaped here too, whatever raised them.
    if (error instanceof UsageError) {
      io.stderr(`error: ${messageLine(error.message)}\nRun with --help for usage.\n`);
      return 2;
    }
    if (error instanceof GgufError) {
      io.stderr(`error: ${messageLine(cliMessage(error.message))}\n`);
      return error.code === "ABORTED" ? 130 : 1;
    }
    // A bug, not bad input: one line, the stack only when asked for.
    const detail = (values.verbose ? (error as Error)?.stack ?? String(error) : String(error))
      .split("\n").map(escapeText).join("\n");
    io.stderr(
      `error: unexpected failure: ${detail}${
        values.verbose ? "" : " (run with -v for the stack)"
      }\n`,
    );
    return 1;
  }
}

/**
 * Runs the command line as a program: {@linkcode main}, then the process ends with its
 * status. The one exit path of `convert.ts` and of the npm package's `gguf-stream` bin.
 * Interrupted (a status over 128), it exits at once: a read still pending on a silent pipe
 * would otherwise keep the process alive.
 *
 * @param args The arguments, without the program name.
 * @param program How the user started it, for `--help` (default: from the runtime).
 * @returns When the process is left to end by itself (status 0 to 2).
 *
 * @example
 * ```ts ignore
 * import { runCli } from "gguf-stream/convert";
 * await runCli(process.argv.slice(2));
 * ```
 */
export async function runCli(args: string[], program?: string): Promise<void> {
  const status = await main(args, { ...processIo, program });
  if (status > 128) {
    // Where exit() can wait on a write no one reads (Node), end as the signal would.
    const signal = Object.entries(SIGNALS).find(([, number]) => number === status - 128);
    if (signal !== undefined) PLATFORM.process?.endBySignal?.(signal[0]);
    process.exit(status);
  }
  process.exitCode = status;
}

if (import.meta.main) await runCli(process.argv.slice(2));
