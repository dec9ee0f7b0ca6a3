// A bounded closed-loop HTTP load generator: `concurrency` loops each keep exactly one request in
// flight on their own keep-alive connection, for a warm-up and then a measured window. Closed loop
// means the offered load adapts to the server (no coordinated-omission correction is needed for the
// question asked here: how many /click per second can the runtime complete, and how long does one take
// at that load).
import { performance } from "node:perf_hooks";
// undici is in node_modules (a dependency of miniflare and wrangler). Its Pool gives one keep-alive
// connection per loop and, unlike fetch(), never follows redirects and adds no Fetch-spec overhead.
import { Pool } from "undici";

/** Nearest-rank percentile of an ascending-sorted array (p in 0..1). */
export function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

/** Concatenates and sorts latency arrays (for percentiles over several runs). */
export function mergeSorted(...arrays) {
  const all = new Float64Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    all.set(a, at);
    at += a.length;
  }
  return all.sort();
}

/**
 * Runs one load phase against `origin`.
 *
 * - `request(seq)` returns `{ path, headers }` for the seq-th request (seq counts from 0 in this phase).
 * - Requests completing during the first `warmupMs` are not measured; loops stop issuing at the end of
 *   the measured window (`warmupMs + durationMs`) or after `maxRequests`, whichever comes first.
 * - Only 302 is success; any other status or a network error is an error.
 *
 * Returns the measured figures plus `total302` (every 302 of the phase, warm-up and tail included: each
 * one is a click edgeclick acknowledged and so must count).
 */
export async function runLoad({ origin, concurrency, warmupMs, durationMs, maxRequests, timeoutMs = 10_000, request }) {
  const pool = new Pool(origin, {
    connections: concurrency,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  const latencies = [];
  const statuses = {};
  let issued = 0;
  let total302 = 0;
  let errors = 0;
  let lastDone = 0;

  const t0 = performance.now();
  const measureFrom = t0 + warmupMs;
  const measureTo = measureFrom + durationMs;

  const loop = async () => {
    while (issued < maxRequests && performance.now() < measureTo) {
      const { path, headers } = request(issued++);
      const start = performance.now();
      let status;
      try {
        const res = await pool.request({ path, method: "GET", headers });
        status = res.statusCode;
        await res.body.dump();
      } catch (err) {
        status = `error:${err.code ?? err.name}`;
      }
      const done = performance.now();
      if (status === 302) total302++;
      if (done < measureFrom || done > measureTo) continue;
      statuses[status] = (statuses[status] ?? 0) + 1;
      lastDone = done;
      if (status === 302) latencies.push(done - start);
      else errors++;
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, loop));
  } finally {
    await pool.close();
  }

  // If the request cap ended the phase early, the window is shorter than planned.
  const windowMs = (issued >= maxRequests ? Math.min(lastDone, measureTo) : measureTo) - measureFrom;
  const sorted = Float64Array.from(latencies).sort();
  return {
    ok: sorted.length,
    errors,
    statuses,
    windowMs,
    rps: windowMs > 0 ? sorted.length / (windowMs / 1000) : 0,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    latencies: sorted,
    issued,
    total302,
    capped: issued >= maxRequests,
  };
}
