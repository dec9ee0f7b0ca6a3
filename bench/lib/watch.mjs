// What the bench watches besides the load: which edgeclick source it measured, and what the Workers
// logged while under load (an error path such as the queue fallback is slow, and its throughput is not
// the figure anyone wants; it must show up next to the numbers).
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

// Everything that goes into the Workers' bundles or their local state.
const SOURCES = ["domain", "durable-objects", "workers", "r2-batch", "migrations", "types", "wrangler.toml", "package.json"];

/**
 * A short hash of the edgeclick sources as they are on disk now. Each runtime bundles the working tree
 * when it starts (the stack first, `wrangler dev` a minute later), so if the tree is being edited
 * meanwhile the two runtimes run different code; comparing fingerprints tells.
 */
export function sourceFingerprint(root) {
  const hash = createHash("sha256");
  const walk = (path) => {
    if (!existsSync(path)) return;
    if (statSync(path).isDirectory()) {
      for (const name of readdirSync(path).sort()) if (name !== "node_modules" && !name.startsWith(".")) walk(join(path, name));
    } else {
      hash.update(relative(root, path)).update("\0").update(readFileSync(path)).update("\0");
    }
  };
  for (const s of SOURCES) walk(join(root, s));
  return hash.digest("hex").slice(0, 12);
}

/** HEAD and how many tracked files differ from it (read-only git; no index refresh). */
export function gitState(root) {
  try {
    const git = (...args) => execFileSync("git", ["--no-optional-locks", ...args], { cwd: root, encoding: "utf8" }).trim();
    const head = git("rev-parse", "--short", "HEAD");
    const dirty = git("status", "--porcelain").split("\n").filter(Boolean).length;
    return dirty ? `${head} + ${dirty} uncommitted or untracked path(s)` : `${head} (clean)`;
  } catch {
    return "unknown";
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: it strips terminal escape sequences
const ANSI = /\x1b\[[0-9;]*m/g;
export const stripAnsi = (s) => String(s).replace(ANSI, "");

/** Counts messages and keeps the most frequent distinct first lines. */
export class Tally {
  count = 0;
  #byMessage = new Map();
  add(message) {
    const line = stripAnsi(message).split("\n")[0].trim().slice(0, 200);
    this.count++;
    this.#byMessage.set(line, (this.#byMessage.get(line) ?? 0) + 1);
  }
  top(n = 3) {
    return [...this.#byMessage]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([m, k]) => `${k}× "${m}"`);
  }
}

/**
 * Collects what the stack's Workers log as errors and warnings (Miniflare prints them with console.error)
 * until the returned `stop()`: the first few are shown as usual, the rest only counted, so that a
 * failing click path cannot flood the terminal.
 */
export function captureConsoleErrors(showFirst = 3) {
  const tally = new Tally();
  const original = console.error;
  console.error = (...args) => {
    tally.add(args.map(String).join(" "));
    if (tally.count <= showFirst) original(...args);
    else if (tally.count === showFirst + 1) original("bench: (further worker errors are only counted)");
  };
  return {
    tally,
    stop() {
      console.error = original;
      return tally;
    },
  };
}

/** The `[ERROR]` lines of a wrangler dev log from byte `from` on. */
export function tallyLogErrors(path, from = 0) {
  const tally = new Tally();
  if (!existsSync(path)) return tally;
  const text = stripAnsi(readFileSync(path).subarray(from).toString());
  for (const line of text.split("\n")) {
    const at = line.indexOf("[ERROR]");
    if (at >= 0) tally.add(line.slice(at + 7));
  }
  return tally;
}
