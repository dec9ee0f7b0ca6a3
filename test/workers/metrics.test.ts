import { describe, expect, it } from "vitest";
import { emptyMerged, toMetricBucket } from "../../domain/metrics";
import { sketchAdd } from "../../domain/hll";
import { aggregatedCountQuery, parseOr400 } from "../../domain/schemas";
import { bufferName, bufferSlots } from "../../domain/buffer";

describe("metric buckets", () => {
  it("never show more unique users than clicks: the estimate is capped by its exact bound", () => {
    const m = emptyMerged(0, null);
    for (const u of ["a", "b", "c"]) sketchAdd(m.users, u);
    m.clicks = 2;
    expect(toMetricBucket(m, false).unique_users).toBe(2);
    m.clicks = 5;
    expect(toMetricBucket(m, false).unique_users).toBe(3);
  });
});

describe("query validation", () => {
  it("says a missing parameter is required, and a malformed one what is wrong with it", () => {
    expect(() => parseOr400(aggregatedCountQuery, { to: "2026-11-30" })).toThrow("from: is required");
    expect(() => parseOr400(aggregatedCountQuery, { from: "soon", to: "2026-11-30" })).toThrow(/^from: must be an ISO-8601 time/);
  });
});

describe("edge buffer names", () => {
  it("spread a location over the configured slots, 4 unless set to 1–64", () => {
    expect(bufferSlots({})).toBe(4);
    expect(bufferSlots({ EDGE_BUFFER_SLOTS: "16" })).toBe(16);
    for (const bad of ["0", "65", "2.5", "many", ""]) expect(bufferSlots({ EDGE_BUFFER_SLOTS: bad }), bad).toBe(4);
    const names = new Set(Array.from({ length: 400 }, (_, i) => bufferName("FRA", `isolate-${i}`, 16)));
    expect(names.size).toBe(16);
    for (const n of names) expect(n).toMatch(/^FRA:(\d|1[0-5])$/);
    expect(bufferName(null, "x")).toMatch(/^local:[0-3]$/);
  });
});
