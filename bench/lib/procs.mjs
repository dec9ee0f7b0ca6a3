// `wrangler dev` child processes for the bench, and making sure none outlives it.
//
// Each child is spawned detached, i.e. as the leader of its own process group, so that stopping it also
// stops the workerd that wrangler starts underneath (same group), and a Ctrl+C in the terminal (which
// signals only the foreground group) reaches them through our handlers instead of orphaning them.
import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const live = new Set();

function signalGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

/** Last resort (process "exit" handler: synchronous only): SIGKILL every child group still running. */
export function killAllNow() {
  for (const c of live) signalGroup(c.child, "SIGKILL");
  live.clear();
}

/**
 * Starts `node wrangler.js <args>` in `cwd` and logs its output to `logDir/<name>.log`.
 * Returns `{ name, child, logPath, tail(), stop() }`.
 */
export function startWrangler(name, args, { cwd, env, logDir }) {
  const logPath = join(logDir, `${name}.log`);
  const log = createWriteStream(logPath);
  // Run wrangler with this very node (22, see package.json) rather than whatever `npx` resolves.
  const child = spawn(process.execPath, [join(cwd, "node_modules/wrangler/bin/wrangler.js"), ...args], {
    cwd,
    env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let recent = "";
  const keep = (chunk) => {
    log.write(chunk);
    recent = (recent + chunk.toString()).slice(-4000);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const proc = {
    name,
    child,
    logPath,
    exited,
    exitCode: null,
    tail: () => recent.trim(),
    async stop() {
      if (!live.has(proc)) return;
      signalGroup(child, "SIGTERM");
      const gone = await Promise.race([exited, sleep(5000).then(() => null)]);
      if (!gone) signalGroup(child, "SIGKILL");
      // Anything wrangler left in its group (workerd) goes too.
      signalGroup(child, "SIGKILL");
      await Promise.race([exited, sleep(2000)]);
      live.delete(proc);
      log.end();
    },
  };
  exited.then(({ code, signal }) => (proc.exitCode = code ?? signal));
  live.add(proc);
  return proc;
}

/** Stops every child still running. */
export async function stopAll() {
  await Promise.all([...live].map((p) => p.stop()));
}

/**
 * Polls until `check()` resolves true, the process exits, or `timeoutMs` passes (then throws with the
 * tail of its output, which is where wrangler says why).
 */
export async function waitUntilReady(proc, check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let lastError = null;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) {
      throw new Error(`${proc.name} exited (${proc.exitCode}) before it was ready. Its output:\n${proc.tail()}`);
    }
    try {
      if (await check()) return;
    } catch (err) {
      lastError = err;
    }
    await sleep(250);
  }
  throw new Error(
    `${proc.name} was not ready after ${timeoutMs / 1000} s (last check: ${lastError?.cause?.code ?? lastError?.message ?? "not ready"}). ` +
      `Its output (${proc.logPath}):\n${proc.tail()}`,
  );
}
