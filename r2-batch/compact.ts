/**
 * Compaction: once an hour of the archive can no longer receive on-time events, each campaign's files of that hour
 * (one per queue message, often a few events each) are merged into parts of up to COMPACT_PART_EVENTS events,
 * verified, committed by a manifest, and only then removed (the naming rule is in domain/archive-layout.ts).
 * Late events still arrive as small files afterwards; the next round merges them, with any underfull part.
 */
import { type CompactionManifest, archiveFile, compactedKey, folderHour, hourFolders, manifestKey } from "../domain/archive-layout";
import { type CompactionSummary, userBucket } from "../domain/billing";
import type { RecordedEvent } from "../domain/event";
import { archiveMetadata, decodeArchive, encodeArchive } from "../domain/parquet";
import { DAY, HOUR, MAX_EVENT_AGE_MS, MAX_EVENT_SKEW_MS, MINUTE, utcDate } from "../domain/time";
import { type ArchiveObject, currentFiles, listObjects, r2File } from "./files";

/**
 * Events per compacted part: a part's decoded events are held while it is sorted and encoded (~2 KB each with the
 * encoder's copies: bench:rollup measures it), within the Worker's 128 MB.
 */
export const COMPACT_PART_EVENTS = 20_000;
/** Rows per row group: the unit a rollup partition reads or skips. */
export const ROW_GROUP_EVENTS = 2_048;
/** Key-value metadata of a compacted part: each row group's [lowest, highest] user bucket (domain/billing.ts). */
export const BUCKET_RANGES_KEY = "edgeclick.user_buckets";
const PARALLEL_READS = 8;
/** How long after an hour's on-time window closes its last on-time events may still be on their way to R2. */
const ARCHIVE_SLACK_MS = 10 * MINUTE;

/** When an hour stops receiving on-time events (and their files have had time to land): it may be compacted. */
export function hourClosedAt(hourStart: number, allowedLatenessMs: number): number {
  return hourStart + HOUR + allowedLatenessMs + MAX_EVENT_SKEW_MS + ARCHIVE_SLACK_MS;
}

export type CompactionResult = CompactionSummary;

const emptyResult = (): CompactionResult => ({ folders: 0, campaigns: 0, files_before: 0, files_after: 0, events: 0 });

/** Hour folders of the last 8 days (late events can reach 7 days back) that are closed at `now`. */
export function closedFolders(now: number, allowedLatenessMs: number): string[] {
  const out: string[] = [];
  for (let d = now - MAX_EVENT_AGE_MS - DAY; d <= now; d += DAY) {
    for (const folder of hourFolders(utcDate(d))) if (hourClosedAt(folderHour(folder), allowedLatenessMs) <= now) out.push(folder);
  }
  return out;
}

/** Whether a folder holds a file compaction would merge (one list call: small files sort before nothing in particular). */
export async function needsCompaction(bucket: R2Bucket, folder: string): Promise<boolean> {
  return (await listObjects(bucket, folder)).some((o) => archiveFile(o.key)?.kind === "small");
}

/** One hour folder: every campaign with small files (or several underfull parts) gets a new round. */
export async function compactFolder(bucket: R2Bucket, folder: string, now: number): Promise<CompactionResult> {
  const result = emptyResult();
  const objects = await listObjects(bucket, folder);
  if (!objects.some((o) => archiveFile(o.key)?.kind === "small")) return result;
  const { files, manifests } = await currentFiles(bucket, objects);
  const byCampaign = new Map<string, ArchiveObject[]>();
  for (const f of files) {
    const campaign = archiveFile(f.key)?.campaign;
    if (!campaign) continue; // a file this layout did not name: left as it is
    let list = byCampaign.get(campaign);
    if (!list) byCampaign.set(campaign, (list = []));
    list.push(f);
  }
  result.folders = 1;
  for (const [campaign, list] of byCampaign) {
    const inputs = list.filter((f) => archiveFile(f.key)?.kind === "small" || (f.events ?? 0) < COMPACT_PART_EVENTS / 2);
    if (inputs.length < 2) continue;
    const own = (manifests.get(folder) ?? []).filter((m) => m.campaign === campaign);
    const r = await compactCampaign(bucket, folder, campaign, inputs, own, String(now));
    result.campaigns++;
    result.files_before += inputs.length;
    result.files_after += r.parts;
    result.events += r.events;
  }
  return result;
}

/**
 * Merges `inputs` (one campaign, one hour) into sorted parts, verifies them, commits the round's manifest, then
 * deletes what it replaced. A crash before the commit leaves parts no reader uses (the next round overwrites or
 * ignores them); after it, covered files no reader uses.
 */
export async function compactCampaign(
  bucket: R2Bucket,
  folder: string,
  campaign: string,
  inputs: readonly ArchiveObject[],
  manifests: readonly CompactionManifest[],
  round: string,
): Promise<{ parts: number; events: number }> {
  const seen = new Set<string>();
  const parts: string[] = [];
  let part: RecordedEvent[] = [];
  const flush = async () => {
    if (!part.length) return;
    const key = compactedKey(folder, campaign, round, parts.length);
    const written = await writePart(bucket, key, part, round);
    // Verified before anything is removed: the object is there, whole, and holds every event given to it.
    const meta = await archiveMetadata(await r2File(bucket, key, written));
    if (Number(meta.num_rows) !== part.length) throw new Error(`compaction: ${key} holds ${meta.num_rows} of ${part.length} events`);
    parts.push(key);
    part = [];
  };
  const fetchInput = async (input: ArchiveObject) => {
    const obj = await bucket.get(input.key);
    if (!obj) throw new Error(`compaction: ${input.key} vanished (another round ran?)`);
    return obj.arrayBuffer();
  };
  // A few reads in flight while one file is decoded: small files are latency, not bytes.
  for (let i = 0; i < inputs.length; i += PARALLEL_READS) {
    const bodies = await Promise.all(inputs.slice(i, i + PARALLEL_READS).map(fetchInput));
    for (const body of bodies) {
      for (const e of (await decodeArchive(body)) as RecordedEvent[]) {
        // A receipt is archived once; should a copy exist (a redelivered message), the merged file keeps one.
        if (seen.has(e.uid)) continue;
        seen.add(e.uid);
        part.push(e);
        if (part.length >= COMPACT_PART_EVENTS) await flush();
      }
    }
  }
  await flush();
  const names = new Set(inputs.map((i) => archiveFile(i.key)!.name));
  const covers = new Set(names);
  const superseded: CompactionManifest[] = [];
  for (const m of manifests) {
    const merged = m.parts.filter((p) => names.has(p));
    if (!merged.length) continue;
    // What those parts replaced stays covered: a late redelivery of one of its files must not count twice.
    for (const c of m.covers) covers.add(c);
    if (merged.length === m.parts.length) superseded.push(m);
  }
  const manifest: CompactionManifest = {
    campaign,
    round,
    parts: parts.map((k) => archiveFile(k)!.name),
    covers: [...covers].sort(),
    events: seen.size,
  };
  await bucket.put(manifestKey(folder, campaign, round), JSON.stringify(manifest), {
    httpMetadata: { contentType: "application/json" },
  });
  const remove = [...inputs.map((i) => i.key), ...superseded.map((m) => manifestKey(folder, campaign, m.round))];
  for (let i = 0; i < remove.length; i += 1000) await bucket.delete(remove.slice(i, i + 1000));
  return { parts: parts.length, events: seen.size };
}

/** Writes one part sorted by user bucket, with each row group's bucket range, so a rollup partition reads only its own. */
async function writePart(bucket: R2Bucket, key: string, events: RecordedEvent[], round: string): Promise<number> {
  const keyed = events.map((e) => ({ e, b: userBucket(e) })).sort((x, y) => x.b - y.b);
  const ranges: [number, number][] = [];
  for (let i = 0; i < keyed.length; i += ROW_GROUP_EVENTS) {
    ranges.push([keyed[i].b, keyed[Math.min(i + ROW_GROUP_EVENTS, keyed.length) - 1].b]);
  }
  const bytes = encodeArchive(
    keyed.map((k) => k.e),
    { rowGroupSize: ROW_GROUP_EVENTS, kvMetadata: [{ key: BUCKET_RANGES_KEY, value: JSON.stringify(ranges) }] },
  );
  await bucket.put(key, bytes, {
    httpMetadata: { contentType: "application/vnd.apache.parquet" },
    customMetadata: { events: String(events.length), round },
    // R2 checks it on upload and keeps it: statements list it without reading the file again.
    sha256: await crypto.subtle.digest("SHA-256", bytes),
  });
  return bytes.byteLength;
}
