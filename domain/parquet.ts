/**
 * The archive format: one Parquet file (zstd) per queue message and hour, with the columns below.
 * The column names are the event's field names (domain/event.ts), so the archive, D1 and the API agree.
 */
import { zstdCompressSync, zstdDecompressSync } from "node:zlib";
import { parquetWriteBuffer } from "hyparquet-writer";
import { parquetMetadataAsync, parquetRead, parquetReadObjects, type AsyncBuffer, type FileMetaData } from "hyparquet";
import type { Conversion } from "./conversion";
import type { BillingReason, RecordedEvent } from "./event";

type ColumnType = "STRING" | "INT32" | "INT64" | "DOUBLE" | "BOOLEAN" | "TIMESTAMP";

/** Archive columns in file order. `timestamp` and `received_at` are TIMESTAMP(ms, UTC). */
export const ARCHIVE_COLUMNS = [
  ["event_id", "STRING"],
  ["uid", "STRING"],
  ["timestamp", "TIMESTAMP"],
  ["received_at", "TIMESTAMP"],
  ["source", "STRING"],
  ["advertiser_id", "STRING"],
  ["campaign_id", "STRING"],
  ["ad_id", "STRING"],
  ["publisher_id", "STRING"],
  ["user_id", "STRING"],
  ["ip_hash", "STRING"],
  ["user_agent", "STRING"],
  ["referer", "STRING"],
  ["device_type", "STRING"],
  ["os", "STRING"],
  ["browser", "STRING"],
  ["country", "STRING"],
  ["edge_country", "STRING"],
  ["city", "STRING"],
  ["asn", "INT32"],
  ["colo", "STRING"],
  ["cost_per_click", "DOUBLE"],
  ["ad_format", "STRING"],
  ["ad_group_id", "STRING"],
  ["variant", "STRING"],
  ["x", "INT32"],
  ["y", "INT32"],
  ["w", "INT32"],
  ["h", "INT32"],
  ["signature", "STRING"],
  ["rate_limited", "BOOLEAN"],
  ["click_id", "STRING"],
  ["verdict", "STRING"],
  ["reason", "STRING"],
  ["late", "BOOLEAN"],
  ["shard", "INT32"],
  ["seq", "INT64"],
] as const satisfies readonly (readonly [keyof RecordedEvent, ColumnType])[];

export type ArchiveColumn = (typeof ARCHIVE_COLUMNS)[number][0];

/** Columns of the conversions archive (`conversions/…`, domain/archive-layout.ts), named like the Conversion's fields. */
export const CONVERSION_COLUMNS = [
  ["conversion_id", "STRING"],
  ["click_id", "STRING"],
  ["timestamp", "TIMESTAMP"],
  ["received_at", "TIMESTAMP"],
  ["click_timestamp", "TIMESTAMP"],
  ["advertiser_id", "STRING"],
  ["campaign_id", "STRING"],
  ["ad_id", "STRING"],
  ["ad_group_id", "STRING"],
  ["publisher_id", "STRING"],
  ["variant", "STRING"],
  ["country", "STRING"],
  ["device_type", "STRING"],
  ["os", "STRING"],
  ["ad_format", "STRING"],
  ["name", "STRING"],
  ["value", "DOUBLE"],
  ["currency", "STRING"],
] as const satisfies readonly (readonly [keyof Conversion, ColumnType])[];

const zstd = (input: Uint8Array): Uint8Array => new Uint8Array(zstdCompressSync(input));
const unzstd = (input: Uint8Array): Uint8Array => new Uint8Array(zstdDecompressSync(input));

/**
 * Encodes recorded events as one Parquet file (zstd; one row group unless `rowGroupSize` says otherwise, and
 * extra key-value metadata, as compaction writes them).
 */
export function encodeArchive(events: readonly RecordedEvent[], opts: EncodeOptions = {}): ArrayBuffer {
  return encode(ARCHIVE_COLUMNS, events as unknown as readonly Record<string, unknown>[], opts);
}

/** The columns of an overlay file (domain/archive-layout.ts): an event's uid and the verdict billing now gives it. */
export const OVERLAY_COLUMNS = ["uid", "campaign_id", "timestamp", "verdict", "reason"] as const satisfies readonly ArchiveColumn[];
export type OverlayRow = Pick<ArchiveRow, "uid" | "campaign_id" | "timestamp" | "verdict"> & { reason: BillingReason | null };

/** Encodes overlay rows as one Parquet file, with the archive's column names and types (a glob reads both). */
export function encodeOverlay(rows: readonly OverlayRow[]): ArrayBuffer {
  const columns = ARCHIVE_COLUMNS.filter(([name]) => (OVERLAY_COLUMNS as readonly string[]).includes(name));
  return encode(columns, rows as unknown as readonly Record<string, unknown>[]);
}

/** Encodes conversions as one Parquet file. */
export function encodeConversions(conversions: readonly Conversion[]): ArrayBuffer {
  return encode(CONVERSION_COLUMNS, conversions as unknown as readonly Record<string, unknown>[]);
}

type EncodeOptions = { rowGroupSize?: number; kvMetadata?: { key: string; value: string }[] };

function encode(
  columns: readonly (readonly [string, ColumnType])[],
  events: readonly Record<string, unknown>[],
  opts: EncodeOptions = {},
): ArrayBuffer {
  return parquetWriteBuffer({
    codec: "ZSTD",
    compressors: { ZSTD: zstd },
    rowGroupSize: opts.rowGroupSize ?? Math.max(events.length, 1),
    createdBy: "edgeclick",
    kvMetadata: [{ key: "edgeclick.schema", value: "1" }, ...(opts.kvMetadata ?? [])],
    columnData: columns.map(([name, type]) => ({
      name,
      type,
      data: events.map((e) => {
        const v = e[name];
        if (v === undefined || v === null) return null;
        if (type === "TIMESTAMP") return new Date(v as number);
        if (type === "INT64") return BigInt(v as number);
        return v;
      }),
    })),
  });
}

export type ArchiveRow = { [K in ArchiveColumn]: RecordedEvent[K] };

/** Reads a conversions archive file back (domain/archive-layout.ts, conversionsKey). */
export async function decodeConversions(file: ArrayBuffer): Promise<Conversion[]> {
  return (await decodeArchive(file)) as unknown as Conversion[];
}

/** Reads an archive file back into events (all columns, or only those named). */
export async function decodeArchive<C extends ArchiveColumn>(file: ArrayBuffer, columns?: readonly C[]): Promise<Pick<ArchiveRow, C>[]> {
  const rows = (await parquetReadObjects({
    file,
    columns: columns as string[] | undefined,
    compressors: { ZSTD: unzstd },
  })) as Record<string, unknown>[];
  return plainRows(rows) as Pick<ArchiveRow, C>[];
}

/** Times as epoch ms and INT64 as numbers, as the event has them. */
function plainRows(rows: Record<string, unknown>[]): Record<string, unknown>[] {
  for (const row of rows) {
    for (const [k, v] of Object.entries(row)) {
      if (v instanceof Date) row[k] = v.getTime();
      else if (typeof v === "bigint") row[k] = Number(v);
    }
  }
  return rows;
}

export type { AsyncBuffer, FileMetaData };

/** A file's footer: row groups, their row counts and the key-value metadata, read without the rest of the file. */
export function archiveMetadata(file: AsyncBuffer): Promise<FileMetaData> {
  return parquetMetadataAsync(file);
}

/** One row group's rows (the named columns), read from `file` by byte ranges: memory holds one row group at a time. */
export async function readRowGroup<C extends ArchiveColumn>(
  file: AsyncBuffer,
  metadata: FileMetaData,
  group: number,
  columns: readonly C[],
): Promise<Pick<ArchiveRow, C>[]> {
  let rowStart = 0;
  for (let g = 0; g < group; g++) rowStart += Number(metadata.row_groups[g].num_rows);
  const rowEnd = rowStart + Number(metadata.row_groups[group].num_rows);
  let rows: Record<string, unknown>[] = [];
  await parquetRead({
    file,
    metadata,
    columns: columns as unknown as string[],
    rowStart,
    rowEnd,
    rowFormat: "object",
    compressors: { ZSTD: unzstd },
    onComplete: (r: Record<string, unknown>[]) => {
      rows = r;
    },
  });
  return plainRows(rows) as Pick<ArchiveRow, C>[];
}

/** The value of one key of a file's key-value metadata. */
export function metadataValue(metadata: FileMetaData, key: string): string | undefined {
  return metadata.key_value_metadata?.find((kv) => kv.key === key)?.value ?? undefined;
}
