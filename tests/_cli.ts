/**
 * The CLI run in this process, as the tests drive it: `main()` with its output collected.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { main } from "../convert.ts";

/** The repository, where child CLIs run. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const RUNTIME = "Deno" in globalThis ? [process.execPath, "run", "-A"] : [process.execPath];

/** The command line of the CLI under the runtime running the test, run in {@linkcode ROOT}. */
export function cliArgv(args: string[]): string[] {
  return scriptArgv("convert.ts", args);
}

/** The command line running `script` (with `-A` under Deno) under the runtime running the test. */
export function scriptArgv(script: string, args: string[] = []): string[] {
  return [...RUNTIME, script, ...args];
}

/** The environment of a child CLI: this one's, without the test runner's context. */
export function cliEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  return env;
}

/** What a run of the CLI printed, and its exit status. */
export interface CliRun {
  status: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `main(args)` with standard output and error collected as text.
 *
 * @param args The arguments, without the program name.
 * @returns The exit status and what was printed.
 */
export async function runCli(args: string[]): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  const status = await main(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { status, stdout, stderr };
}

/**
 * Runs `bash -c SCRIPT` in the repository with `"$@"` the CLI (`convert.ts` under the
 * runtime running the test) and `ARGS`, e.g. `"$@" < in.gguf | head -c 1; exit
 * "${PIPESTATUS[0]}"`: the CLI in a child process, its pipes and redirections as a user's
 * shell makes them.
 *
 * @param script The bash script.
 * @param args The CLI's arguments.
 * @returns The script's exit status and standard error.
 */
export function runCliInBash(script: string, args: string[]): { status: number; stderr: string } {
  return runInBash(script, cliArgv(args));
}

/**
 * Runs `bash -c SCRIPT` in the repository with `"$@"` the command line `argv`, as
 * {@linkcode runCliInBash} does for the CLI.
 *
 * @param script The bash script.
 * @param argv The command and its arguments.
 * @returns The script's exit status and standard error.
 */
export function runInBash(script: string, argv: string[]): { status: number; stderr: string } {
  const run = spawnSync("/bin/bash", ["-c", script, "bash", ...argv], {
    cwd: ROOT,
    env: cliEnv(),
    encoding: "utf8",
    timeout: 120_000,
  });
  assert.equal(run.error, undefined);
  return { status: run.status!, stderr: run.stderr };
}
