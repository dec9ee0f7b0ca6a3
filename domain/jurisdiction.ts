/**
 * Where an advertiser's data lives. An advertiser created with `jurisdiction: "eu"` has its campaign
 * objects and the edge buffers holding its events created in Cloudflare's EU jurisdiction, and its
 * archive written to the EU-jurisdiction R2 bucket (`ARCHIVE_EU`). Set at creation; it never changes,
 * since objects cannot move.
 */
import type { ShardPlan } from "./sharding";

export const JURISDICTIONS = ["eu"] as const;
export type Jurisdiction = (typeof JURISDICTIONS)[number];

/** How events of one campaign reach their objects: the shard plan, and where the objects live. */
export interface CampaignRoute {
  shard_plan: ShardPlan;
  jurisdiction: Jurisdiction | null;
}

/**
 * The object `name`, created in `jurisdiction` (anywhere when null). The local runtime (workerd) has no
 * jurisdictions and says so; there the object is kept apart under a `<jurisdiction>:` name prefix instead,
 * so routing stays testable locally. Deployed, `namespace.jurisdiction()` is always used.
 */
export function stubIn<T extends Rpc.DurableObjectBranded | undefined>(
  ns: DurableObjectNamespace<T>,
  jurisdiction: Jurisdiction | null,
  name: string,
): DurableObjectStub<T> {
  if (!jurisdiction) return ns.getByName(name);
  try {
    return ns.jurisdiction(jurisdiction).getByName(name);
  } catch (err) {
    if (!(err instanceof Error && /not implemented in workerd/.test(err.message))) throw err;
    return ns.getByName(`${jurisdiction}:${name}`);
  }
}

/** The jurisdiction an object was created in (deployed: its id says so; locally: its name prefix). */
export function jurisdictionOf(id: DurableObjectId): Jurisdiction | null {
  return JURISDICTIONS.find((j) => j === id.jurisdiction || id.name?.startsWith(`${j}:`)) ?? null;
}

/** The archive bucket of a jurisdiction. */
export function archiveFor(env: { ARCHIVE: R2Bucket; ARCHIVE_EU: R2Bucket }, jurisdiction: Jurisdiction | null | undefined): R2Bucket {
  return jurisdiction === "eu" ? env.ARCHIVE_EU : env.ARCHIVE;
}
