/**
 * `GET /ops`: the operator's page beside the dashboard. It reads `GET /v1/ops` with the admin token the
 * operator pastes (kept in this tab only), every 5 s, and shows the alerts first.
 *
 * Its markup, style and script are plain files in pages/ (ops.html, .css, .js), bundled as text.
 */
import body from "./pages/ops.html";
import style from "./pages/ops.css";
import script from "./pages/ops.js";
import { pageHandler } from "./page";

/** `GET /ops`. */
export const opsPageResponse = pageHandler({ title: "edgeclick: operations", style, body, script });
