/** Answers a read as JSON or, when asked, as a streamed CSV export of its rows (domain/csv.ts). */
import type { z } from "zod";
import { csvColumns, csvLines } from "../../domain/csv";
import type { QueryContext } from "./mount";

/** Lines per chunk written to the stream: big enough to be cheap, small enough that a long range never sits in one string. */
const LINES_PER_CHUNK = 500;

export function wantsCsv(c: QueryContext, format: "json" | "csv" | undefined): boolean {
  return format ? format === "csv" : /\btext\/csv\b/i.test(c.req.header("Accept") ?? "");
}

/** The rows as CSV, encoded chunk by chunk as the client reads them. */
function csvStream(lines: Generator<string>): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    pull(controller) {
      let chunk = "";
      for (let n = 0; n < LINES_PER_CHUNK; n++) {
        const next = lines.next();
        if (next.done) {
          if (chunk) controller.enqueue(encoder.encode(chunk));
          controller.close();
          return;
        }
        chunk += next.value;
      }
      controller.enqueue(encoder.encode(chunk));
    },
  });
}

/**
 * `body` as JSON, or its rows (`rows(body)`, each shaped by `row`) as CSV with a file name. `omit` drops
 * columns the JSON answer leaves out (a metrics bucket's `group` without group_by).
 */
export function jsonOrCsv<T>(
  c: QueryContext,
  format: "json" | "csv" | undefined,
  body: T,
  csv: { filename: string; row: z.ZodObject; rows: (body: T) => unknown[]; omit?: string[] },
): Response {
  if (!wantsCsv(c, format)) return c.json(body as object);
  const columns = csvColumns(csv.row).filter((col) => !csv.omit?.includes(col.name));
  return new Response(csvStream(csvLines(columns, csv.rows(body))), {
    headers: {
      "Content-Type": "text/csv; charset=utf-8",
      "Content-Disposition": `attachment; filename="${csv.filename.replace(/[^\w.-]/g, "_")}.csv"`,
      "Cache-Control": "no-store",
    },
  });
}
