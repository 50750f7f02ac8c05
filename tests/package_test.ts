/**
 * The npm package end to end: `npm pack` (whose `prepack` builds dist/ with tsc), installed
 * into a fresh project with no registry needed, then the `gguf-stream` command and the
 * three entry points run there under the system's Node (20 on CI), the pinned Node 22,
 * Bun and Deno — each converting the shipped sample, from a file and from a pipe into a
 * pipe, to the bytes the source CLI writes.
 * Also: the tarball holds only the library, and its declarations type-check in a consumer
 * project. Skipped outside CI when typescript is not installed; under `CI=true` it runs.
 */
import assert from "node:assert/strict";
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { createHash } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, resolve, sep } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { main } from "../convert.ts";
import { scriptArgv } from "./_cli.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const BIN = join(ROOT, "node_modules", ".bin");
const SAMPLE = join(ROOT, "samples", "tiny-llama.gguf");
const IN_CI = process.env.CI === "true" || process.env.CI === "1";
const NOTICE = "note: this runtime has no mmap; reading the file by position instead\n";

/** PATH without the repository's node_modules/.bin (its pinned node, deno, bun, tsc). */
const OUTSIDE_PATH = (process.env.PATH ?? "").split(delimiter).filter((dir) =>
  dir !== "" && !resolve(dir).startsWith(join(ROOT, "node_modules") + sep)
);

/** The first `name` on `dirs`, or undefined. */
function which(name: string, dirs: string[]): string | undefined {
  return dirs.map((dir) => join(dir, name)).find((path) => existsSync(path));
}

const SYSTEM_NODE = which("node", OUTSIDE_PATH);
const PINNED_NODE = join(ROOT, "node_modules", "node", "bin", "node");
const NPM = which("npm", OUTSIDE_PATH);
const NPX = which("npx", OUTSIDE_PATH);

/** The major version of a node binary, or undefined when it does not run. */
function nodeMajor(node: string | undefined): number | undefined {
  if (node === undefined) return undefined;
  const run = spawnSync(node, ["--version"], { encoding: "utf8" });
  const match = run.status === 0 ? /^v(\d+)\./.exec(run.stdout) : null;
  return match ? Number(match[1]) : undefined;
}

const SYSTEM_MAJOR = nodeMajor(SYSTEM_NODE);

/** Why the whole file is skipped: only outside CI, and only for a missing build tool. */
const BUILD_MISSING = IN_CI
  ? false
  : !existsSync(join(BIN, "tsc"))
  ? "typescript is not installed in node_modules (npm install)"
  : NPM === undefined || NPX === undefined
  ? "npm is not on PATH"
  : false;

/**
 * The environment for child processes: no npm_* variables from an enclosing `npm test`
 * (npm_config_local_prefix would point a nested npm at this repository) and no test
 * runner context; `bin` first on PATH so that `#!/usr/bin/env node` finds that node.
 */
function childEnv(bin?: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || /^npm_/i.test(key) || key === "NODE_TEST_CONTEXT") continue;
    env[key] = value;
  }
  env.PATH = [...(bin === undefined ? [] : [bin]), ...OUTSIDE_PATH].join(delimiter);
  return env;
}

/** Runs a command to completion; fails the test with its output when it fails. */
function run(
  command: string,
  args: string[],
  options: { cwd: string; bin?: string },
): SpawnSyncReturns<string> {
  const result = spawnSync(command, args, {
    cwd: options.cwd,
    env: childEnv(options.bin),
    encoding: "utf8",
    timeout: 120_000,
  });
  assert.equal(
    result.status,
    0,
    `${command} ${args.join(" ")} failed (${
      result.error ?? result.signal ?? result.status
    }):\n${result.stdout}\n${result.stderr}`,
  );
  return result;
}

function sha256File(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** What one `npm pack` and install produced, shared by the tests below. */
interface Installed {
  /** The consumer project, with the package installed in its node_modules. */
  project: string;
  /** Paths inside the tarball, and its size in bytes. */
  files: string[];
  size: number;
  /** SHA-256 of the sample as converted by the source CLI (`main()` from ../convert.ts). */
  expected: string;
}

let installing: Promise<Installed> | undefined;
let tempDir: string | undefined;
after(() => {
  if (tempDir !== undefined) rmSync(tempDir, { recursive: true, force: true });
});

/** Packs and installs once per file; the temporary directory goes after the last test. */
function installed(): Promise<Installed> {
  return installing ??= install();
}

/** The consumer's script: every entry point, converting `argv[2]` to `argv[3]`. */
const CHECK_SCRIPT = `import process from "node:process";
import { convertFile, readGguf } from "gguf-stream";
import { openByteSource } from "gguf-stream/sources";
import { quantizableTypes } from "gguf-stream/kernels";
import { resolvePolicy } from "gguf-stream/pipeline";
import { main, VERSION } from "gguf-stream/convert";
// The runtime the package detected is internal: read from its module in dist/.
import { RUNTIME } from "./node_modules/gguf-stream/dist/src/runtime/current.js";
const [input, output] = process.argv.slice(2);
const header = await readGguf(input);
await convertFile(input, output, { onWarning: () => {} });
let printed = "";
const status = await main(["--version"], { stdout: (t) => (printed += t), stderr: () => {} });
const source = await openByteSource(input, { access: "read" });
const subpaths = [source.kind, quantizableTypes().includes("Q8_0"), [...resolvePolicy().target]];
await source.close();
console.log(JSON.stringify({ runtime: RUNTIME, version: VERSION, tensors: header.tensors.length, status, printed, subpaths }));
`;

/** A consumer's TypeScript, type-checked against the package's declarations. */
const CONSUMER_TS = `import {
  type ByteSource,
  convertGguf,
  type GgufFile,
  GgufError,
  readGguf,
} from "gguf-stream";
import { type ByteSink, openByteSource } from "gguf-stream/sources";
import { type Dequantizer, dequantizerOf } from "gguf-stream/kernels";
import { encodeGgufHeader, type ResolvedPolicy, resolvePolicy } from "gguf-stream/pipeline";
import { main } from "gguf-stream/convert";
export const header: Promise<GgufFile> = readGguf("model.gguf");
export const tensors: Promise<number> = convertGguf("model.gguf").then((m) => m.tensors.size);
export const status: Promise<number> = main(["--version"]);
export const source: Promise<ByteSource> = openByteSource("model.gguf", { access: "read" });
export const sink: ByteSink | undefined = undefined;
export const dequantizer: Dequantizer | undefined = dequantizerOf(8);
export const policy: ResolvedPolicy = resolvePolicy({ requantize: "Q8_0" });
export const headerBytes: number = encodeGgufHeader({ alignment: 32, metadata: [], tensors: [] }).bytes.length;
export const code = (error: unknown): string | undefined =>
  error instanceof GgufError ? error.code : undefined;
`;

async function install(): Promise<Installed> {
  const dir = tempDir = mkdtempSync(join(tmpdir(), "gguf-stream-package-"));
  const pack = run(NPM!, ["pack", "--json", "--pack-destination", dir], {
    cwd: ROOT,
    bin: BIN,
  });
  const [info] = JSON.parse(pack.stdout) as {
    filename: string;
    size: number;
    files: { path: string }[];
  }[];
  const project = join(dir, "project");
  mkdirSync(project);
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "consumer", private: true, type: "module" }),
  );
  run(NPM!, ["install", "--no-audit", "--no-fund", join(dir, info.filename)], { cwd: project });
  writeFileSync(join(project, "check.mjs"), CHECK_SCRIPT);
  const reference = join(dir, "source.gguf");
  const status = await main([SAMPLE, "-o", reference, "-q"], {
    stdout: () => {},
    stderr: () => {},
  });
  assert.equal(status, 0, "the source CLI converts the sample");
  return {
    project,
    files: info.files.map((f) => f.path),
    size: info.size,
    expected: sha256File(reference),
  };
}

test("npm pack ships dist/, the bin entry, README and LICENSE, and nothing else", {
  skip: BUILD_MISSING,
}, async () => {
  const { files, size, project } = await installed();
  for (const path of files) {
    assert.match(
      path,
      /^(LICENSE|README\.md|package\.json|bin\/gguf-stream\.js|dist\/.+(\.d\.ts|\.js))$/,
      path,
    );
  }
  for (const entry of ["mod", "sources", "kernels", "pipeline", "convert"]) {
    assert.ok(files.includes(`dist/${entry}.js`), `dist/${entry}.js`);
    assert.ok(files.includes(`dist/${entry}.d.ts`), `dist/${entry}.d.ts`);
  }
  assert.ok(files.includes("bin/gguf-stream.js"));
  assert.ok(size < 1_000_000, `tarball of ${size} bytes`);
  // Every relative import in the emitted JavaScript names a .js file.
  const distDir = join(project, "node_modules", "gguf-stream", "dist");
  for (const path of readdirSync(distDir, { recursive: true }) as string[]) {
    if (!path.endsWith(".js")) continue;
    const code = readFileSync(join(distDir, path), "utf8").split("\n")
      .filter((line) => !/^\s*(\*|\/\/|\/\*)/.test(line)).join("\n");
    for (const [, specifier] of code.matchAll(/(?:from|import\()\s*"(\.{1,2}\/[^"]*)"/g)) {
      assert.match(specifier, /\.js$/, `${path} imports ${specifier}`);
    }
  }
});

test("the package's declarations type-check in a consumer project, with the DOM or Node's types", {
  skip: BUILD_MISSING,
}, async () => {
  const { project } = await installed();
  writeFileSync(join(project, "consumer.ts"), CONSUMER_TS);
  /** Checks the consumer, every declaration included, with these libraries and types. */
  const check = (name: string, options: Record<string, unknown>) => {
    writeFileSync(
      join(project, name),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          skipLibCheck: false,
          ...options,
        },
        files: ["consumer.ts"],
      }),
    );
    run(join(BIN, "tsc"), ["-p", name], { cwd: project });
  };
  // A web project: the DOM library, no @types/node.
  check("tsconfig.json", { lib: ["ESNext", "DOM"], types: [] });
  // A Node project: Node's own types, no DOM library.
  check("tsconfig.node.json", {
    lib: ["ES2022"],
    types: ["node"],
    typeRoots: [join(ROOT, "node_modules", "@types")],
  });
});

/** One runtime the installed package must work on. */
interface RuntimeCase {
  name: string;
  /** What the package's `RUNTIME` must say there. */
  runtime: "node" | "bun" | "deno";
  /** Why it is skipped, or false. */
  skip: string | false;
  /** The CLI through the package's bin: `npx gguf-stream ARGS` or the runtime's own. */
  cli(args: string[]): CliCommand;
  /** Runs the consumer's check.mjs. */
  script(args: string[], project: string): SpawnSyncReturns<string>;
}

/** A command line and the directory put first on PATH for it. */
interface CliCommand {
  command: string;
  args: string[];
  bin?: string;
}

/** Runs the CLI in `cwd`. */
function runCli(cli: CliCommand, cwd: string): SpawnSyncReturns<string> {
  return run(cli.command, cli.args, { cwd, bin: cli.bin });
}

/**
 * Runs the CLI in `cwd` between two pipes, as `CLI ARGS < input | cat > output` (the exit
 * status the CLI's), through bash.
 */
function runCliPiped(
  cli: CliCommand,
  cwd: string,
  input: string,
  output: string,
): SpawnSyncReturns<string> {
  const script = `"$@" < "${input}" | cat > "${output}"; exit "\${PIPESTATUS[0]}"`;
  return run("/bin/bash", ["-c", script, "bash", cli.command, ...cli.args], { cwd, bin: cli.bin });
}

const nodeCase = (name: string, node: string | undefined, missing: string | false) => {
  const bin = node === undefined ? undefined : dirname(node);
  return {
    name,
    runtime: "node",
    skip: missing,
    cli: (args: string[]) => ({ command: NPX!, args: ["gguf-stream", ...args], bin }),
    script: (args: string[], cwd: string) => run(node!, ["check.mjs", ...args], { cwd, bin }),
  } satisfies RuntimeCase;
};

const BUN = join(BIN, "bun");
const DENO = join(BIN, "deno");
const DENO_FLAGS = ["run", "-A", "--node-modules-dir=manual", "--no-lock"];

const RUNTIMES: RuntimeCase[] = [
  nodeCase(
    `the system's Node (${SYSTEM_MAJOR ?? "missing"}), through npx`,
    SYSTEM_NODE,
    SYSTEM_MAJOR === undefined
      ? "no node outside node_modules on PATH"
      : SYSTEM_MAJOR < 20
      ? `the system's node is ${SYSTEM_MAJOR}, older than the package supports`
      : false,
  ),
  nodeCase(
    "the pinned Node 22, through npx",
    PINNED_NODE,
    existsSync(PINNED_NODE) ? false : "the pinned node is not installed in node_modules",
  ),
  {
    name: "Bun, through bun x",
    runtime: "bun",
    skip: existsSync(BUN) ? false : "bun is not installed in node_modules",
    cli: (args) => ({ command: BUN, args: ["--bun", "x", "gguf-stream", ...args] }),
    script: (args, cwd) => run(BUN, ["check.mjs", ...args], { cwd }),
  },
  {
    name: "Deno, through npm:gguf-stream from node_modules",
    runtime: "deno",
    skip: existsSync(DENO) ? false : "deno is not installed in node_modules",
    cli: (args) => ({ command: DENO, args: [...DENO_FLAGS, "npm:gguf-stream", ...args] }),
    script: (args, cwd) => run(DENO, [...DENO_FLAGS, "check.mjs", ...args], { cwd }),
  },
];

for (const runtime of RUNTIMES) {
  test(
    `the installed package converts the sample as the source CLI does on ${runtime.name}`,
    { skip: BUILD_MISSING || (IN_CI ? false : runtime.skip) },
    async () => {
      const { project, expected } = await installed();
      const tag = runtime.name.replace(/[^a-z0-9]+/gi, "-");
      const cliOut = join(project, `cli-${tag}.gguf`);
      const cli = runCli(runtime.cli([SAMPLE, "-o", cliOut, "-q", "-v"]), project);
      assert.equal(sha256File(cliOut), expected, "CLI output");
      // Node has no mmap: -v says so, once; Bun and Deno (-A) map the file and say nothing.
      const notices = cli.stderr.split(NOTICE).length - 1;
      assert.equal(notices, runtime.runtime === "node" ? 1 : 0, cli.stderr);
      // With worker threads (dist/'s convert_worker.js, started as each runtime does).
      const threadsOut = join(project, `threads-${tag}.gguf`);
      runCli(runtime.cli([SAMPLE, "-o", threadsOut, "-q", "--threads", "3"]), project);
      assert.equal(sha256File(threadsOut), expected, "CLI output with 3 threads");
      // A pipe into a pipe: dist/'s stdio_worker.js, with blocking reads and writes.
      const pipedOut = join(project, `piped-${tag}.gguf`);
      const piped = runCliPiped(
        runtime.cli(["-", "-o", "-", "-q", "-v"]),
        project,
        SAMPLE,
        pipedOut,
      );
      assert.equal(sha256File(pipedOut), expected, "CLI output from a pipe into a pipe");
      assert.match(piped.stderr, /converting on a worker thread/);
      // --help shows the command the user ran, not the checkout's.
      const help = runCli(runtime.cli(["--help"]), project).stdout;
      assert.match(help, /^ {2}gguf-stream MODEL\.gguf -o OUT\.gguf/m);
      assert.doesNotMatch(help, /^ {2}deno run -A convert\.ts MODEL/m);

      const apiOut = join(project, `api-${tag}.gguf`);
      const script = runtime.script([SAMPLE, apiOut], project);
      const report = JSON.parse(script.stdout.trim().split("\n").at(-1)!);
      assert.equal(report.tensors, 21);
      assert.equal(report.status, 0);
      assert.match(report.printed, /^gguf-stream \d+\.\d+\.\d+\n$/);
      assert.equal(report.printed, `gguf-stream ${report.version}\n`);
      assert.equal(report.runtime, runtime.runtime);
      assert.deepEqual(report.subpaths, ["read", true, ["Q4_0", "Q8_0", "F32"]]);
      assert.equal(sha256File(apiOut), expected, "API output");
    },
  );
}

test("the bin in a checkout without dist/ says to build, in one line, exit 1", () => {
  const dir = mkdtempSync(join(tmpdir(), "gguf-stream-unbuilt-"));
  try {
    mkdirSync(join(dir, "bin"));
    copyFileSync(join(ROOT, "bin", "gguf-stream.js"), join(dir, "bin", "gguf-stream.js"));
    writeFileSync(join(dir, "package.json"), '{ "type": "module" }\n');
    const [command, ...args] = scriptArgv(join(dir, "bin", "gguf-stream.js"), ["--version"]);
    const child = spawnSync(command, args, { cwd: dir, encoding: "utf8" });
    assert.equal(child.status, 1, child.stderr);
    assert.match(
      child.stderr,
      /^error: dist\/convert\.js is not built: run `npm run build` [^\n]*\n$/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
