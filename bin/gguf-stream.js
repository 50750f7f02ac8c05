#!/usr/bin/env node
// The `gguf-stream` command of the npm package: runs the built CLI (dist/convert.js) on
// Node >= 20.16, Bun or Deno, and exits the way convert.ts itself does.
import { existsSync } from "node:fs";

const built = new URL("../dist/convert.js", import.meta.url);
if (!existsSync(built)) {
  // Only a checkout lacks it (the package ships dist/): say how to get it, not a stack.
  process.stderr.write(
    "error: dist/convert.js is not built: run `npm run build` first, or run the CLI from " +
      "source (deno run -A convert.ts, bun convert.ts, node convert.ts on Node >= 22.18)\n",
  );
  process.exit(1);
}
const { runCli } = await import(built.href);
await runCli(process.argv.slice(2), "gguf-stream");
