#!/usr/bin/env node
// The `gguf-stream` command of the npm package: runs the built CLI (dist/convert.js) on
// Node >= 20.16, Bun or Deno, and exits with its status.
import { main } from "../dist/convert.js";

process.exitCode = await main(process.argv.slice(2));
