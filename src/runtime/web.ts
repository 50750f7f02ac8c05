/**
 * The platform of runtimes with only web APIs: browsers (a page or a web worker) and
 * Cloudflare's workerd. There are no files, no standard streams, no mapping and no
 * page-cache advice; workers are the web `Worker` where there is one and
 * `SharedArrayBuffer` is allowed (a cross-origin isolated page), and the core count is
 * `navigator.hardwareConcurrency`.
 *
 * @module
 */
import { availableCores, canStartWorkers, startWebWorker } from "./node.ts";
import type { Platform } from "./platform.ts";

/**
 * The web platform under a given name.
 *
 * @param name `"browser"` or `"workerd"`.
 * @returns A platform with workers and cores only.
 *
 * @example
 * ```ts
 * import { webPlatform } from "./web.ts";
 * import assert from "node:assert/strict";
 * const platform = webPlatform("workerd");
 * assert.equal(platform.name, "workerd");
 * assert.equal(platform.files, undefined);
 * assert.equal(platform.mapFile, undefined);
 * ```
 */
export function webPlatform(name: "browser" | "workerd"): Platform {
  return {
    name,
    displayName: name === "workerd" ? "workerd" : "this browser",
    os: undefined,
    pid: 0,
    processAlive: () => true,
    canStartWorkers,
    startWorker: startWebWorker,
    availableCores,
  };
}
