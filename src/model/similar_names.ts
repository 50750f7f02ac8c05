/**
 * "Did you mean …?": the names closest to a mistyped one, for messages about a flag, an
 * option, a metadata key or a tensor name.
 *
 * @module
 */

/**
 * Edit distance between two short strings: insertions, deletions, substitutions and swaps
 * of neighbours, one each.
 *
 * @param a One string.
 * @param b The other.
 * @returns How many edits turn `a` into `b`.
 *
 * @example
 * ```ts
 * import { editDistance } from "./similar_names.ts";
 * import assert from "node:assert/strict";
 * assert.equal(editDistance("--paln", "--plan"), 1); // a swap
 * assert.equal(editDistance("polcy", "policy"), 1);
 * ```
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array(rows * cols).fill(0);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(
        d[(i - 1) * cols + j] + 1,
        d[i * cols + j - 1] + 1,
        d[(i - 1) * cols + j - 1] + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, d[(i - 2) * cols + j - 2] + 1);
      }
      d[i * cols + j] = best;
    }
  }
  return d[rows * cols - 1];
}

/**
 * The names closest to a mistyped one, for a "did you mean" hint: those within a few edits
 * (about one per four characters), nearest first, then names that contain it or share its
 * last dotted part.
 *
 * @param name What the user typed, e.g. `blk.0.attn_q.weigth`.
 * @param names The names that exist.
 * @param most How many to return at most.
 * @returns Up to `most` names.
 *
 * @example
 * ```ts
 * import { similarNames } from "./similar_names.ts";
 * import assert from "node:assert/strict";
 * const keys = ["general.architecture", "general.name", "llama.block_count"];
 * assert.deepEqual(similarNames("general.architectur", keys), ["general.architecture"]);
 * assert.deepEqual(similarNames("block_count", keys), ["llama.block_count"]);
 * ```
 */
export function similarNames(name: string, names: Iterable<string>, most = 3): string[] {
  const limit = Math.max(2, Math.floor(name.length / 4));
  const near: [string, number][] = [];
  const related: string[] = [];
  const last = name.split(".").pop()!;
  for (const candidate of names) {
    // Lengths further apart than the limit cannot be within it.
    const d = Math.abs(candidate.length - name.length) > limit
      ? Infinity
      : editDistance(name, candidate);
    if (d <= limit) near.push([candidate, d]);
    else if (candidate.includes(name) || candidate.split(".").includes(last)) {
      related.push(candidate);
    }
  }
  near.sort((a, b) => a[1] - b[1]);
  return [...near.map(([candidate]) => candidate), ...related].slice(0, most);
}
