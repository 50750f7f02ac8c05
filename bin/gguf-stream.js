#!/usr/bin/env node
// The `gguf-stream` command of the npm package: runs the built CLI (dist/convert.js) on
// Node >= 20.16, Bun or Deno, and exits the way convert.ts itself does.
import { runCli } from "../dist/convert.js";

await runCli(process.argv.slice(2), "gguf-stream");
