import { describe, expect, it } from "vitest";
import { ARCHIVE_COLUMNS, decodeArchive, encodeArchive } from "../../domain/parquet";
import type { RecordedEvent } from "../../domain/event";
import { makeEvent } from "./fixtures";

describe("archive Parquet", () => {
  it("round-trips every column, nulls included", async () => {
    const events: RecordedEvent[] = [
      {
        ...makeEvent({ user_id: null, x: 10, y: -3, asn: 13335, city: "Zürich", referer: "https://a.example/?q=ü" }),
        verdict: "clean",
        reason: null,
        late: false,
        shard: 0,
        seq: 1,
      },
      { ...makeEvent({ cost_per_click: 0.123456, variant: "b" }), verdict: "invalid", reason: "bot_ua", late: true, shard: 3, seq: 2 },
    ];
    const file = encodeArchive(events);
    expect(new TextDecoder().decode(new Uint8Array(file, 0, 4))).toBe("PAR1");
    const rows = await decodeArchive(file);
    expect(rows).toEqual(events.map((e) => Object.fromEntries(ARCHIVE_COLUMNS.map(([k]) => [k, e[k]]))));
  });

  it("reads only the columns asked for", async () => {
    const rows = await decodeArchive(encodeArchive([{ ...makeEvent(), verdict: "clean", reason: null, late: false, shard: 0, seq: 9 }]), [
      "seq",
      "verdict",
    ]);
    expect(rows).toEqual([{ seq: 9, verdict: "clean" }]);
  });
});
