/** Reading the archive from R2: which files of a date are current (domain/archive-layout.ts), and their rows by byte ranges. */
import { type CompactionManifest, archiveFile, currentKeys, dayPrefix, hourFolder } from "../domain/archive-layout";
import { type ArchiveColumn, type ArchiveRow, type AsyncBuffer, type FileMetaData, archiveMetadata, readRowGroup } from "../domain/parquet";

export interface ArchiveObject {
  key: string;
  size: number;
  /** Events in it, as the writer recorded them (customMetadata `events`); null when unknown. */
  events: number | null;
}

/** Every object under a prefix, page by page. */
export async function listObjects(bucket: R2Bucket, prefix: string): Promise<ArchiveObject[]> {
  const out: ArchiveObject[] = [];
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix, cursor, include: ["customMetadata"] });
    for (const o of page.objects) {
      const events = Number(o.customMetadata?.events);
      out.push({ key: o.key, size: o.size, events: Number.isFinite(events) && o.customMetadata?.events ? events : null });
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return out;
}

export async function readManifest(bucket: R2Bucket, key: string): Promise<CompactionManifest | null> {
  const obj = await bucket.get(key);
  return obj ? ((await obj.json()) as CompactionManifest) : null;
}

/** The current Parquet files among a listing (any number of hour folders), and the committed manifests it holds. */
export async function currentFiles(
  bucket: R2Bucket,
  objects: readonly ArchiveObject[],
  campaign?: string,
): Promise<{ files: ArchiveObject[]; manifests: Map<string, CompactionManifest[]> }> {
  const byFolder = new Map<string, ArchiveObject[]>();
  for (const o of objects) {
    // One campaign's files (and any file whose name does not say its campaign): only its manifests are read.
    const named = archiveFile(o.key)?.campaign;
    if (campaign !== undefined && named && named !== campaign) continue;
    const folder = hourFolder(o.key);
    let list = byFolder.get(folder);
    if (!list) byFolder.set(folder, (list = []));
    list.push(o);
  }
  const files: ArchiveObject[] = [];
  const manifests = new Map<string, CompactionManifest[]>();
  for (const [folder, list] of byFolder) {
    const committed = (
      await Promise.all(list.filter((o) => archiveFile(o.key)?.kind === "manifest").map((o) => readManifest(bucket, o.key)))
    ).filter((m): m is CompactionManifest => m !== null);
    manifests.set(folder, committed);
    const current = new Set(
      currentKeys(
        list.map((o) => o.key),
        committed,
      ),
    );
    files.push(...list.filter((o) => current.has(o.key)));
  }
  return { files, manifests };
}

/** The current Parquet files of one UTC date in one bucket (of one campaign, when given). */
export async function dayFiles(bucket: R2Bucket, date: string, campaign?: string): Promise<ArchiveObject[]> {
  return (await currentFiles(bucket, await listObjects(bucket, dayPrefix(date)), campaign)).files;
}

/** Thrown when a listed file is gone: a compaction swapped its hour since the listing. */
export class VanishedError extends Error {}

/**
 * An R2 object as hyparquet's AsyncBuffer: small files are read whole in one GET, larger ones by ranged GETs (the
 * footer, then each column chunk read), so memory holds what is being decoded, never the whole file.
 */
export async function r2File(bucket: R2Bucket, key: string, size: number, wholeBelow = 4 * 1024 * 1024): Promise<AsyncBuffer> {
  if (size <= wholeBelow) {
    const obj = await bucket.get(key);
    if (!obj) throw new VanishedError(`archive file vanished: ${key}`);
    const buf = await obj.arrayBuffer();
    return { byteLength: buf.byteLength, slice: (start: number, end?: number) => buf.slice(start, end) };
  }
  return {
    byteLength: size,
    async slice(start: number, end?: number) {
      const obj = await bucket.get(key, { range: { offset: start, length: (end ?? size) - start } });
      if (!obj) throw new VanishedError(`archive file vanished: ${key}`);
      return obj.arrayBuffer();
    },
  };
}

/** Opens a file: its bytes (or ranged reader) and its footer. */
export async function openFile(bucket: R2Bucket, o: ArchiveObject): Promise<{ file: AsyncBuffer; metadata: FileMetaData }> {
  const file = await r2File(bucket, o.key, o.size);
  return { file, metadata: await archiveMetadata(file) };
}

/** Rows of the row groups `want` accepts (all by default), one row group at a time. */
export async function eachRowGroup<C extends ArchiveColumn>(
  opened: { file: AsyncBuffer; metadata: FileMetaData },
  columns: readonly C[],
  onRows: (rows: Pick<ArchiveRow, C>[], group: number) => void,
  want: (group: number) => boolean = () => true,
): Promise<void> {
  for (let g = 0; g < opened.metadata.row_groups.length; g++) {
    if (!want(g)) continue;
    onRows(await readRowGroup(opened.file, opened.metadata, g, columns), g);
  }
}
