/**
 * Dev only, never deployed: the ingest Worker for trying distance and failure on the local stack
 * (scripts/stack.mjs builds this entry instead of workers/ingest/index.ts when asked, e.g.
 * `EDGECLICK_OBJECT_RTT_MS=150 npm start`):
 *   - every call that reaches a campaign object waits EDGECLICK_OBJECT_RTT_MS first;
 *   - `POST /__dev/unreachable?ms=N` to a campaign object makes it refuse calls for N ms;
 *   - EDGECLICK_FAULTS="campaign,queue" makes the edge see the Durable Objects (buffers and campaign
 *     objects) and/or the queue as down, so the fallback paths can be exercised (test/e2e/degrade).
 * None of it is on the production code path.
 */
import ingest from "../../workers/ingest/index";
import { CampaignCounter as Real } from "../../durable-objects/campaign";

export { Blocklist, Leaderboard, EdgeBuffer, KeyGate, AlertBox, ConversionLedger } from "../../workers/ingest/index";

type DevEnv = IngestEnv & { EDGECLICK_OBJECT_RTT_MS?: string; EDGECLICK_FAULTS?: string };

/** A binding whose every call fails, as an unreachable service's would. */
function down<T extends object>(what: string): T {
  const fail = () => Promise.reject(new Error(`${what} unavailable (EDGECLICK_FAULTS)`));
  const stub = new Proxy({}, { get: () => fail });
  return new Proxy({}, { get: (_t, prop) => (prop === "send" || prop === "sendBatch" ? fail : () => stub) }) as T;
}

/** The edge's bindings with the faults EDGECLICK_FAULTS names. */
function withFaults(env: DevEnv): IngestEnv {
  const faults = new Set(
    (env.EDGECLICK_FAULTS ?? "")
      .split(",")
      .map((f) => f.trim())
      .filter(Boolean),
  );
  if (faults.size === 0) return env;
  return {
    ...env,
    ...(faults.has("campaign")
      ? { CAMPAIGN: down<IngestEnv["CAMPAIGN"]>("campaign objects"), BUFFER: down<IngestEnv["BUFFER"]>("edge buffers") }
      : {}),
    ...(faults.has("queue") ? { EVENTS: down<IngestEnv["EVENTS"]>("queue") } : {}),
  };
}

export class CampaignCounter extends Real {
  #unreachableUntil = 0;

  async #distance(): Promise<void> {
    if (Date.now() < this.#unreachableUntil) throw new Error("campaign object unreachable (dev switch)");
    const rtt = Number((this.env as DevEnv).EDGECLICK_OBJECT_RTT_MS ?? 0);
    if (rtt > 0) await new Promise((r) => setTimeout(r, rtt));
  }

  override async fetch(req: Request): Promise<Response> {
    const url = new URL(req.url);
    if (req.method === "POST" && url.pathname === "/__dev/unreachable") {
      this.#unreachableUntil = Date.now() + Number(url.searchParams.get("ms") ?? 0);
      return Response.json({ unreachable_until: new Date(this.#unreachableUntil).toISOString() });
    }
    return new Response("not found", { status: 404 });
  }

  override async record(...a: Parameters<Real["record"]>) {
    await this.#distance();
    return super.record(...a);
  }
  override async admit(...a: Parameters<Real["admit"]>) {
    await this.#distance();
    return super.admit(...a);
  }
  override async count(...a: Parameters<Real["count"]>) {
    await this.#distance();
    return super.count(...a);
  }
  override async cells(...a: Parameters<Real["cells"]>) {
    await this.#distance();
    return super.cells(...a);
  }
  override async cellsMany(...a: Parameters<Real["cellsMany"]>) {
    await this.#distance();
    return super.cellsMany(...a);
  }
  override async lateArrivals(...a: Parameters<Real["lateArrivals"]>) {
    await this.#distance();
    return super.lateArrivals(...a);
  }
  override async archived(...a: Parameters<Real["archived"]>) {
    await this.#distance();
    return super.archived(...a);
  }
}

export default {
  fetch: (req, env, ctx) => ingest.fetch(req, withFaults(env), ctx),
} satisfies ExportedHandler<DevEnv>;
