/** The archive files a campaign's month of billing is computed from: keys, sizes and SHA-256, for a verifiable statement. */
import { toHex } from "../domain/crypto";
import { overlayCampaignPrefix } from "../domain/archive-layout";
import { dayFiles, listObjects } from "./files";

export interface StatementFile {
  key: string;
  size: number;
  sha256: string;
  /** The bucket: `main`, or `eu` for an advertiser whose data stays in the EU. */
  bucket: "main" | "eu";
}

/** SHA-256 of an object: R2's stored checksum when the writer gave one, else computed from its bytes. */
async function sha256Of(bucket: R2Bucket, key: string): Promise<string | null> {
  const head = await bucket.head(key);
  if (!head) return null;
  if (head.checksums.sha256) return toHex(head.checksums.sha256);
  const obj = await bucket.get(key);
  return obj ? toHex(await crypto.subtle.digest("SHA-256", await obj.arrayBuffer())) : null;
}

/** The current files of one campaign for each of `dates`, and the applied overlays that change their verdicts, in key order. */
export async function statementFiles(
  env: { ARCHIVE: R2Bucket; ARCHIVE_EU: R2Bucket },
  campaignId: string,
  dates: readonly string[],
): Promise<StatementFile[]> {
  const out: StatementFile[] = [];
  for (const [name, bucket] of [
    ["main", env.ARCHIVE],
    ["eu", env.ARCHIVE_EU],
  ] as const) {
    for (const date of dates) {
      const overlays = await listObjects(bucket, overlayCampaignPrefix(date, campaignId));
      for (const f of [...(await dayFiles(bucket, date, campaignId)), ...overlays]) {
        const sha256 = await sha256Of(bucket, f.key);
        // Gone since the listing: a compaction swapped the hour; its part is listed by the caller's next ask.
        if (sha256) out.push({ key: f.key, size: f.size, sha256, bucket: name });
      }
    }
  }
  return out.sort((a, b) => a.key.localeCompare(b.key));
}
