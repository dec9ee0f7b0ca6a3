// What every `npm run bench:*` script shares: its --name=value settings, a free loopback port, and
// rewriting its own section of bench/RESULTS.md (between its start and end markers; the rest is kept).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";

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
