// Serves examples/edge_convert.ts inside workerd, Cloudflare Workers' runtime (the `workerd`
// npm package's binary, configured here directly). The library is bundled to one ES module
// first:
//
//   bun build examples/edge_convert.ts --outfile out/edge_convert.js --target browser --external "node:*"
//   node examples/serve_workerd.mjs [PORT]
//
// Prints "listening on URL" and the workerd process id, and stops on SIGTERM or SIGINT.
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const port = Number(process.argv[2] ?? 8787);
const bundle = "out/edge_convert.js";
// workerd embeds modules relative to its config file: the config goes beside the bundle.
const config = join(dirname(bundle), "edge_convert.capnp");
writeFileSync(
  config,
  `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .worker) ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
const worker :Workerd.Worker = (
  modules = [ (name = "edge_convert.js", esModule = embed "edge_convert.js") ],
  compatibilityDate = "2026-07-01",
);
`,
);
const binary = join(
  dirname(createRequire(import.meta.url).resolve("workerd/package.json")),
  "bin",
  "workerd",
);
// Descriptor 3 reports the port each socket listens on (port 0: one the system chose).
const child = spawn(binary, ["serve", config, "--control-fd=3"], {
  stdio: ["ignore", "inherit", "inherit", "pipe"],
});
let control = "";
child.stdio[3].on("data", (data) => {
  control += data;
  const line = control.split("\n").find((text) => text.includes('"listen"'));
  if (line === undefined) return;
  control = "";
  console.log(`listening on http://127.0.0.1:${JSON.parse(line).port}/`);
  console.log(`workerd pid ${child.pid}`);
});
child.on("exit", (code, signal) => process.exit(signal === null ? code ?? 1 : 0));
const stop = () => child.kill("SIGTERM");
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
