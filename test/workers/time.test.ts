import { describe, expect, it } from "vitest";
import { hourPartition } from "../../domain/archive-layout";
import { parseTime, utcDate } from "../../domain/time";
import { segments } from "../../domain/metrics";

describe("time", () => {
  it("parses ISO-8601 and epoch milliseconds, as UTC", () => {
    expect(parseTime("2026-11-20T12:34:56Z")).toBe(Date.UTC(2026, 10, 20, 12, 34, 56));
    expect(parseTime("2026-11-20T12:34:56.789+02:00")).toBe(Date.UTC(2026, 10, 20, 10, 34, 56, 789));
    expect(parseTime("2026-11-20T12:34")).toBe(Date.UTC(2026, 10, 20, 12, 34));
    expect(parseTime("2026-11-20")).toBe(Date.UTC(2026, 10, 20));
    expect(parseTime("1763642096000")).toBe(1763642096000);
    expect(parseTime(1763642096000)).toBe(1763642096000);
  });

  it("refuses what is not a time", () => {
    for (const bad of [
      "",
      "yesterday",
      "2026-02-31",
      "2026-13-01",
      "12/11/2026",
      "1e12",
      "-5",
      "2026-11-20T25:00Z",
      "2026-11-20T12:00:00ZZ",
    ]) {
      expect(parseTime(bad), bad).toBeNull();
    }
    expect(parseTime(-1)).toBeNull();
    expect(parseTime(1.5)).toBeNull();
  });

  it("names archive partitions and dates in UTC", () => {
    const t = Date.UTC(2026, 0, 2, 3, 4, 5);
    expect(hourPartition(t)).toBe("year=2026/month=01/day=02/hour=03");
    expect(utcDate(t)).toBe("2026-01-02");
  });

  it("covers a range with minute, hour and day buckets, without gaps or overlap", () => {
    const from = Date.UTC(2026, 10, 18, 22, 47, 30);
    const to = Date.UTC(2026, 10, 21, 2, 3, 10);
    const segs = segments(from, to);
    expect(segs.map((s) => s.granularity)).toEqual(["minute", "hour", "day", "hour", "minute"]);
    expect(segs[0].from).toBe(Date.UTC(2026, 10, 18, 22, 47));
    expect(segs.at(-1)!.to).toBe(Date.UTC(2026, 10, 21, 2, 4));
    for (let i = 1; i < segs.length; i++) expect(segs[i].from).toBe(segs[i - 1].to);
    expect(segments(Date.UTC(2026, 10, 18, 10, 5), Date.UTC(2026, 10, 18, 10, 9))).toEqual([
      { granularity: "minute", from: Date.UTC(2026, 10, 18, 10, 5), to: Date.UTC(2026, 10, 18, 10, 9) },
    ]);
  });
});
