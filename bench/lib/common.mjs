// What every `npm run bench:*` script shares: its --name=value settings, a free loopback port, a stack of
// its own, and rewriting its own section of bench/RESULTS.md (between its start and end markers; the rest is kept).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readDevVars, startStack } from "../../scripts/stack.mjs";

/** The value of `--name=value` on the command line, or `fallback`. */
export function arg(name, fallback) {
  const a = process.argv.slice(2).find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : fallback;
}

/** A port nothing listens on, on 127.0.0.1 (load only ever targets loopback). */
export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/** Replaces the section between `start` and `end` in `path` (appends it when missing). */
export function writeSection(path, start, end, lines) {
  const section = [start, ...lines, end].join("\n");
  const current = existsSync(path) ? readFileSync(path, "utf8") : "";
  const next = current.includes(start)
    ? current.replace(new RegExp(`${start}[\\s\\S]*${end}`), section)
    : `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(path, next);
}

/**
 * A whole local stack of its own (ports, state and build in a temporary folder) for one bench, with the
 * admin token and an admin POST helper; `close()` stops it and removes the folder.
 */
export async function benchStack(name, options = {}) {
  const dir = mkdtempSync(join(tmpdir(), `edgeclick-bench-${name}-`));
  const stack = await startStack({
    ingestPort: await freePort(),
    queryPort: await freePort(),
    persistTo: join(dir, "state"),
    buildDir: join(dir, "build"),
    crons: false,
    ...options,
  });
  const token = readDevVars().ADMIN_TOKEN;
  const admin = { authorization: `Bearer ${token}` };
  const adminPost = async (path, body) =>
    (await fetch(`${stack.queryUrl}/v1/admin/${path}`, { method: "POST", headers: admin, body: JSON.stringify(body) })).json();
  const close = async () => {
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  };
  return { stack, dir, token, admin, adminPost, close };
}
