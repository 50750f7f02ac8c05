/**
 * The CLI run in this process, as the tests drive it: `main()` with its output collected.
 */
import { main } from "../convert.ts";

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
