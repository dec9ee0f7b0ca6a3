/**
 * What bench/rollup.mjs runs in Node: the archive's own writer (the aggregator's Parquet and key layout), and one
 * rollup job against the stack's real R2 and D1 (Miniflare's bindings from Node), so its memory can be measured.
 */
export { archiveKey, hourPartition } from "../../domain/archive-layout";
export { encodeArchive } from "../../domain/parquet";
export { EVENTS_PER_JOB, planRollup, runJob } from "../../r2-batch/rollup";
export { COMPACT_PART_EVENTS, compactFolder } from "../../r2-batch/compact";
