/**
 * Node built-in modules reached through `process.getBuiltinModule` (Deno, Bun and Node
 * all provide it) instead of an `import`, so that a bundle for a platform without them
 * (an edge worker) carries no reference to them at all.
 *
 * @module
 */

type Builtins = {
  "node:fs": typeof import("node:fs");
  "node:fs/promises": typeof import("node:fs/promises");
  "node:path": typeof import("node:path");
  "node:os": typeof import("node:os");
  "node:worker_threads": typeof import("node:worker_threads");
};

/**
 * Returns a Node built-in module, or `undefined` where the runtime has none (an edge
 * isolate, a browser).
 *
 * @param name The module's `node:` name.
 * @returns The module, or `undefined`.
 *
 * @example
 * ```ts
 * import { findNodeBuiltin } from "./_node_builtin.ts";
 * import assert from "node:assert/strict";
 * assert.equal(typeof findNodeBuiltin("node:os")?.availableParallelism, "function");
 * ```
 */
export function findNodeBuiltin<K extends keyof Builtins>(name: K): Builtins[K] | undefined {
  const get = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } })
    .process?.getBuiltinModule;
  return get?.(name) as Builtins[K] | undefined;
}

/**
 * Returns a Node built-in module, or throws a `TypeError` where the runtime has none.
 *
 * @param name The module's `node:` name.
 * @returns The module.
 *
 * @example
 * ```ts
 * import { nodeBuiltin } from "./_node_builtin.ts";
 * import assert from "node:assert/strict";
 * assert.equal(typeof nodeBuiltin("node:fs/promises").open, "function");
 * ```
 */
export function nodeBuiltin<K extends keyof Builtins>(name: K): Builtins[K] {
  const module = findNodeBuiltin(name);
  if (module === undefined) {
    throw new TypeError(`This runtime has no ${name}: files cannot be read or written here`);
  }
  return module;
}
