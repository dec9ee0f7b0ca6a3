/**
 * The fault switch: `EDGECLICK_FAULTS="campaign,queue"` makes the edge treat the campaign objects and/or
 * the queue as unavailable, so the degraded paths can be exercised on a real stack (test/e2e). Unset
 * in every deployed environment.
 */
export type Fault = "campaign" | "queue";

export function isDown(env: { EDGECLICK_FAULTS?: string }, what: Fault): boolean {
  return (env.EDGECLICK_FAULTS ?? "").split(",").map((s) => s.trim()).includes(what);
}

export function assertUp(env: { EDGECLICK_FAULTS?: string }, what: Fault): void {
  if (isDown(env, what)) throw new Error(`${what} unavailable (EDGECLICK_FAULTS)`);
}
