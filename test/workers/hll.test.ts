import { describe, expect, it } from "vitest";
import { sketchAdd, sketchEstimate, sketchFromBytes, sketchMerge, sketchToBytes, type Sketch } from "../../domain/hll";

function sketchOf(from: number, to: number, prefix = "user"): Sketch {
  const s: Sketch = new Map();
  for (let i = from; i < to; i++) sketchAdd(s, `${prefix}-${i}`);
  return s;
}

describe("HyperLogLog", () => {
  it("is exact for small sets and ignores repeats", () => {
    expect(sketchEstimate(new Map())).toBe(0);
    const s = sketchOf(0, 50);
    for (let i = 0; i < 50; i++) sketchAdd(s, `user-${i}`);
    expect(sketchEstimate(s)).toBe(50);
  });

  it.each([1_000, 20_000, 100_000, 400_000])("estimates %i distinct users within 2%%", (n) => {
    const est = sketchEstimate(sketchOf(0, n));
    expect(Math.abs(est - n) / n).toBeLessThan(0.02);
  });

  it("merges sketches as a union, not a sum", () => {
    const a = sketchOf(0, 30_000);
    const b = sketchOf(20_000, 50_000);
    const est = sketchEstimate(sketchMerge(sketchMerge(new Map(), a), b));
    expect(Math.abs(est - 50_000) / 50_000).toBeLessThan(0.02);
  });

  it("survives packing for RPC", () => {
    const s = sketchOf(0, 5_000, "x");
    expect(sketchFromBytes(sketchToBytes(s))).toEqual(s);
  });
});
