import { DurableObject } from "cloudflare:workers";

/** Top ads by clicks over a sliding window: per advertiser and one global. (Filled in by the top-N work.) */
export class Leaderboard extends DurableObject<IngestEnv> {}
