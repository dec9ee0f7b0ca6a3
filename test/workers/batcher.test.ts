import { describe, expect, it } from "vitest";
import { Batcher } from "../../durable-objects/batcher";
import type { ClickEvent, Outcome } from "../../domain/event";
import { makeEvent } from "./fixtures";

const clean: Outcome = { verdict: "clean", reason: null, late: false };

/** A send that records its batches and answers when released. */
function gate() {
  const calls: string[][] = [];
  const releases: (() => void)[] = [];
  const send = (events: ClickEvent[]) => {
    calls.push(events.map((e) => e.event_id));
    return new Promise<Outcome[]>((resolve) => releases.push(() => resolve(events.map(() => clean))));
  };
  return { calls, releases, send };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe("edge group commit", () => {
  it("sends the first click at once and the clicks that arrive meanwhile as one batch", async () => {
    const b = new Batcher<ClickEvent, Outcome>();
    const g = gate();
    const first = b.submit(makeEvent({ event_id: "a" }), g.send);
    await tick();
    expect(g.calls).toEqual([["a"]]);
    const rest = ["b", "c", "d"].map((id) => b.submit(makeEvent({ event_id: id }), g.send));
    await tick();
    expect(g.calls).toHaveLength(1);
    g.releases[0]();
    expect(await first).toEqual(clean);
    // The next leader notices on its own poll (every few ms), not at once.
    for (let i = 0; i < 100 && g.calls.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
    expect(g.calls).toEqual([["a"], ["b", "c", "d"]]);
    g.releases[1]();
    expect(await Promise.all(rest)).toEqual([clean, clean, clean]);
  });

  it("caps batches and hands the lead on until every click is sent", async () => {
    const b = new Batcher<ClickEvent, Outcome>(2);
    const sizes: number[] = [];
    const send = async (events: ClickEvent[]) => {
      sizes.push(events.length);
      await tick();
      return events.map(() => clean);
    };
    const all = await Promise.all(Array.from({ length: 7 }, () => b.submit(makeEvent(), send)));
    expect(all).toHaveLength(7);
    expect(sizes.reduce((a, n) => a + n, 0)).toBe(7);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(2);
  });

  it("fails every click of a failed batch, and the next batch still goes out", async () => {
    const b = new Batcher<ClickEvent, Outcome>();
    let fail = true;
    const send = async (events: ClickEvent[]) => {
      await tick();
      if (fail) {
        fail = false;
        throw new Error("object unavailable");
      }
      return events.map(() => clean);
    };
    const first = b.submit(makeEvent(), send).then(
      () => "sent",
      (e: Error) => e.message,
    );
    await tick();
    const second = b.submit(makeEvent(), send);
    expect(await first).toBe("object unavailable");
    expect(await second).toEqual(clean);
  });

  it("replaces a leader that stalls, so the clicks behind it still go out", async () => {
    const b = new Batcher<ClickEvent, Outcome>(200, 5_000, 60);
    const sent: string[][] = [];
    const stuck = b.submit(makeEvent({ event_id: "stuck" }), () => new Promise<Outcome[]>(() => {}));
    void stuck;
    await tick();
    const behind = await Promise.all(
      ["a", "b"].map((id) =>
        b.submit(makeEvent({ event_id: id }), async (events) => {
          sent.push(events.map((e) => e.event_id));
          return events.map(() => clean);
        }),
      ),
    );
    expect(behind).toEqual([clean, clean]);
    expect(sent.flat().sort()).toEqual(["a", "b"]);
  });

  it("lets a click whose batch does not answer in time send itself", async () => {
    const b = new Batcher<ClickEvent, Outcome>(200, 50);
    const g = gate();
    const stuck = b.submit(makeEvent({ event_id: "stuck" }), g.send);
    await tick();
    const waiting = b.submit(makeEvent({ event_id: "waiting" }), async (events) => {
      g.calls.push(events.map((e) => e.event_id));
      return events.map(() => clean);
    });
    expect(await waiting).toEqual(clean);
    expect(g.calls).toEqual([["stuck"], ["waiting"]]);
    g.releases[0]();
    expect(await stuck).toEqual(clean);
  });
});
