/**
 * Click heatmaps: where on the creative people click. `/click` may say where (`x`, `y`) on a creative of
 * `w` × `h` pixels; the point is normalised into a GRID × GRID cell. Anything missing or outside the
 * creative is simply not in the heatmap: the person is never refused over it.
 */
export const HEAT_COLS = 20;
export const HEAT_ROWS = 20;

/** The cell index (row × cols + col) of a click, or null when it has no usable point. */
export function heatCell(e: { x: number | null; y: number | null; w?: number | null; h?: number | null }): number | null {
  const { x, y, w, h } = e;
  if (x == null || y == null || w == null || h == null || w <= 0 || h <= 0) return null;
  if (x < 0 || y < 0 || x >= w || y >= h) return null;
  return Math.floor((y * HEAT_ROWS) / h) * HEAT_COLS + Math.floor((x * HEAT_COLS) / w);
}
