/**
 * The R2 layout of the archive, in one place: where raw events, rollup markers and spooled events live.
 * The aggregator writes it, the billing cron reads it, the edge spools into it.
 */
import { HOUR, floorTo } from "./time";

/** Hive-style partition of the archive, by event time: `year=YYYY/month=MM/day=DD/hour=HH`. */
export function hourPartition(ms: number): string {
  const iso = new Date(floorTo(ms, HOUR)).toISOString();
  return `year=${iso.slice(0, 4)}/month=${iso.slice(5, 7)}/day=${iso.slice(8, 10)}/hour=${iso.slice(11, 13)}`;
}

/** The archive prefix holding every hour of one UTC date. */
export function dayPrefix(date: string): string {
  return `raw/year=${date.slice(0, 4)}/month=${date.slice(5, 7)}/day=${date.slice(8, 10)}/`;
}

/** R2 object of one queue message's events in one hour (by event time). Re-delivery overwrites it. */
export function archiveKey(messageId: string, eventTime: number): string {
  return `raw/${hourPartition(eventTime)}/${messageId.replace(/[^A-Za-z0-9_.-]/g, "_")}.parquet`;
}

/** Dates older than yesterday that received events are marked here for the next rollup. */
export const DIRTY_PREFIX = "dirty/";

/** Events spooled to R2 because neither their objects nor the queue took them; the cron sweeps them in. */
export const SPOOL_PREFIX = "spool/";

export function spoolKey(receivedAt: number, uid: string): string {
  return `${SPOOL_PREFIX}${receivedAt}-${uid}.json`;
}

/** The receive time a spool key was named after, or null for a key this layout did not make. */
export function spooledAt(key: string): number | null {
  const m = key.startsWith(SPOOL_PREFIX) ? /^(\d+)-/.exec(key.slice(SPOOL_PREFIX.length)) : null;
  return m ? Number(m[1]) : null;
}

/**
 * R2 object of one batch of conversions of an advertiser (one ledger row), by receive hour; apart from
 * `raw/`, so billing never reads a conversion as a click. A re-written batch overwrites its own file.
 */
export function conversionsKey(advertiserId: string, seq: number, receivedAt: number): string {
  return `conversions/${hourPartition(receivedAt)}/${advertiserId.replace(/[^A-Za-z0-9_.-]/g, "_")}-${seq}.parquet`;
}

// ---------------------------------------------------------------------------------------------------
// Compaction (r2-batch/compact.ts): which files of an hour are current.
//
// An aggregator file is `<campaign>.<shard>-<seq>.parquet`. Once an hour can no longer receive on-time events, a
// compaction round merges a campaign's files of that hour into `<campaign>.c<round>-<part>.parquet` and commits the
// round by writing `<campaign>.c<round>.json` (its parts and every file name it covers) last. The rule every reader
// of this repository follows: a Parquet file is current unless a committed round covers it, and a compacted part is
// current only once its round is committed. So between the commit and the deletion of the covered files, and after a
// crash anywhere in between, an event is read exactly once. A plain glob over raw/ can see both copies for the
// seconds of a swap; every event carries its receipt id `uid`, and docs/reproduce-billing.sql keeps one row per uid.

/** What a committed compaction round says: its parts, and the file names (not keys) it replaces. */
export interface CompactionManifest {
  campaign: string;
  round: string;
  parts: string[];
  covers: string[];
  events: number;
}

export type ArchiveFileKind = "small" | "compacted" | "manifest";

/** A key of one hour of the archive, read by its name; null for a key this layout did not make. */
export function archiveFile(key: string): { kind: ArchiveFileKind; campaign: string; name: string; round?: string } | null {
  const name = key.slice(key.lastIndexOf("/") + 1);
  let m = /^(.+)\.c(\d+)-\d+\.parquet$/.exec(name);
  if (m) return { kind: "compacted", campaign: m[1], name, round: m[2] };
  m = /^(.+)\.c(\d+)\.json$/.exec(name);
  if (m) return { kind: "manifest", campaign: m[1], name, round: m[2] };
  m = /^(.+)\.\d+-\d+\.parquet$/.exec(name);
  if (m) return { kind: "small", campaign: m[1], name };
  return name.endsWith(".parquet") ? { kind: "small", campaign: "", name } : null;
}

/** The compacted part and the manifest of a round, in the same hour folder as the files it covers. */
export function compactedKey(hourFolder: string, campaign: string, round: string, part: number): string {
  return `${hourFolder}${campaign}.c${round}-${part}.parquet`;
}
export function manifestKey(hourFolder: string, campaign: string, round: string): string {
  return `${hourFolder}${campaign}.c${round}.json`;
}

/** `raw/year=…/hour=HH/` of a key. */
export function hourFolder(key: string): string {
  return key.slice(0, key.lastIndexOf("/") + 1);
}

/**
 * The current Parquet keys among one hour folder's keys, given the manifests committed there: files not covered
 * by a committed round, and compacted parts of committed rounds only.
 */
export function currentKeys(keys: readonly string[], manifests: readonly CompactionManifest[]): string[] {
  const covered = new Set<string>();
  const committed = new Set<string>();
  for (const m of manifests) {
    committed.add(`${m.campaign}|${m.round}`);
    for (const name of m.covers) covered.add(name);
  }
  return keys.filter((key) => {
    const f = archiveFile(key);
    if (!f || f.kind === "manifest" || covered.has(f.name)) return false;
    return f.kind === "small" || committed.has(`${f.campaign}|${f.round}`);
  });
}

/** Hour folders of one date, `raw/year=…/day=DD/hour=HH/`. */
export function hourFolders(date: string): string[] {
  return Array.from({ length: 24 }, (_, h) => `${dayPrefix(date)}hour=${String(h).padStart(2, "0")}/`);
}

/** The hour an hour folder holds, as epoch ms of its start. */
export function folderHour(folder: string): number {
  const m = /year=(\d{4})\/month=(\d{2})\/day=(\d{2})\/hour=(\d{2})\//.exec(folder);
  if (!m) throw new Error(`not an hour folder: ${folder}`);
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]));
}

// ---------------------------------------------------------------------------------------------------
// Overlays (r2-batch/recalculate.ts): re-judged verdicts, never the events themselves.
//
// An applied recalculation (or fraud review) leaves one Parquet file per campaign-date it changed, holding only the
// events whose verdict it changed (uid, campaign_id, timestamp, verdict, reason). The rule every billing reader
// follows: an event's verdict is the one of the newest overlay (by key: recalculation ids sort by time) naming its
// uid, else the recorded one. Overlays sit under raw/ so a plain glob over raw/ (docs/reproduce-billing.sql) sees
// them; they are not under any hour folder, so compaction and the rollup's listing of a date never take one for events.

/** Where applied overlays live: `raw/overlays/<date>/<campaign>/<recalculation>.parquet`. */
export const OVERLAY_PREFIX = "raw/overlays/";

const safeName = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, "_");

export function overlayDatePrefix(date: string): string {
  return `${OVERLAY_PREFIX}${date}/`;
}

/** The overlays of one campaign-date (what a statement must list beside the events). */
export function overlayCampaignPrefix(date: string, campaign: string): string {
  return `${overlayDatePrefix(date)}${safeName(campaign)}/`;
}

export function overlayKey(date: string, campaign: string, recalculationId: string): string {
  return `${overlayCampaignPrefix(date, campaign)}${safeName(recalculationId)}.parquet`;
}

/** A computed recalculation's overlay, waiting for its apply (outside raw/: nothing reads it as billing). */
export function pendingOverlayKey(recalculationId: string, date: string, campaign: string): string {
  return `recalculations/${safeName(recalculationId)}/${date}/${safeName(campaign)}.parquet`;
}
