// Serves examples/edge_convert.ts inside workerd, Cloudflare Workers' runtime, started
// locally by the miniflare package. The library is bundled to one ES module first:
//
//   bun build examples/edge_convert.ts --outfile out/edge_convert.js --target browser --external "node:*"
//   node examples/serve_workerd.mjs [PORT]
//
// Prints "listening on URL" and the workerd process id, and stops on SIGTERM or SIGINT.
import { Miniflare } from "miniflare";

const port = Number(process.argv[2] ?? 8787);
const mf = new Miniflare({
  modules: true,
  scriptPath: "out/edge_convert.js",
  compatibilityDate: "2026-07-01",
  host: "127.0.0.1",
  port,
});
const url = await mf.ready;
console.log(`listening on ${url}`);
const stop = async () => {
  await mf.dispose();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
