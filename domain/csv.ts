/**
 * CSV exports (RFC 4180): a header row, CRLF line ends, fields quoted when they hold a comma, a quote or a
 * line break. The columns come from the answer's zod schema (domain/api/responses.ts), so an export has
 * exactly the JSON answer's fields: a nested object becomes one column per field (`parent.child`), and a
 * count per reason code (`invalid_by_reason`) one column per code, 0 where the JSON leaves a code out.
 */
import { z } from "zod";

export interface CsvColumn {
  name: string;
  path: string[];
  /** What an absent value is: 0 in a record of counts (absent codes are 0), empty otherwise. */
  absent: 0 | null;
}

function unwrap(t: z.ZodType): z.ZodType {
  let s = t;
  while (s instanceof z.ZodOptional || s instanceof z.ZodNullable || s instanceof z.ZodDefault) s = s.unwrap() as z.ZodType;
  return s;
}

/** The columns of rows of `schema`, in the schema's field order. */
export function csvColumns(schema: z.ZodObject, path: string[] = []): CsvColumn[] {
  return Object.entries(schema.shape).flatMap(([key, field]) => {
    const t = unwrap(field as z.ZodType);
    const at = [...path, key];
    if (t instanceof z.ZodObject) return csvColumns(t, at);
    if (t instanceof z.ZodRecord && t.keyType instanceof z.ZodEnum)
      return (t.keyType.options as string[]).map((k) => ({ name: [...at, k].join("."), path: [...at, k], absent: 0 as const }));
    return [{ name: at.join("."), path: at, absent: null }];
  });
}

export function csvField(v: unknown): string {
  if (v === null || v === undefined) return "";
  const s = typeof v === "object" ? JSON.stringify(v) : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export const csvLine = (fields: unknown[]): string => `${fields.map(csvField).join(",")}\r\n`;

function valueAt(row: unknown, c: CsvColumn): unknown {
  let v: unknown = row;
  for (const k of c.path) v = v !== null && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined;
  return v === undefined ? c.absent : v;
}

/** The lines of a CSV document, header first, one at a time (to be streamed). */
export function* csvLines(columns: CsvColumn[], rows: Iterable<unknown>): Generator<string> {
  yield csvLine(columns.map((c) => c.name));
  for (const row of rows) yield csvLine(columns.map((c) => valueAt(row, c)));
}
