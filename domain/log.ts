/**
 * Structured logs: one JSON line per notable event (Workers Logs and `wrangler tail` index the fields).
 * Lines carry campaign, event and message ids where there are some, and never a raw IP address.
 */
export function logLine(level: "info" | "warn" | "error", msg: string, fields: Record<string, unknown> = {}): void {
  const line: Record<string, unknown> = { level, msg };
  for (const [k, v] of Object.entries(fields)) line[k] = v instanceof Error ? v.message : v;
  (level === "error" ? console.error : level === "warn" ? console.warn : console.log)(JSON.stringify(line));
}
