/**
 * Dev only, never deployed: the ingest Worker with its campaign objects made distant or unreachable, for
 * the local stack (`EDGECLICK_OBJECT_RTT_MS=150 npm start`, scripts/stack.mjs builds this entry instead of
 * workers/ingest/index.ts when asked). Every call that reaches a campaign object waits the round trip
 * first; `POST /__dev/unreachable?ms=N` to an object makes it refuse calls for N ms (tests).
 */
import ingest from "../../workers/ingest/index";
import { CampaignCounter as Real } from "../../durable-objects/campaign";

export { Blocklist, Leaderboard, EdgeBuffer } from "../../workers/ingest/index";

type DevEnv = IngestEnv & { EDGECLICK_OBJECT_RTT_MS?: string };

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

export default ingest;
