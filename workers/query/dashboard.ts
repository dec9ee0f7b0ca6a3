/**
 * `GET /dashboard`: the advertiser dashboard, one self-contained page (no build step, no framework, no
 * external resources). It reads only the public API with the advertiser's own key, so it shows exactly
 * what the API promises, including the fraud filtering the advertiser is not billed for.
 *
 * Its markup, style and script are plain files in pages/ (dashboard.html, .css, .js), bundled as text.
 * The style and script are inlined and allowed by their SHA-256 hashes in the Content-Security-Policy, so
 * nothing else can run: no injected script, no inline handlers, no `style` attributes in markup (the
 * script sizes bars through CSSOM, which CSP permits). All API data is inserted as text, never as HTML.
 */
import body from "./pages/dashboard.html";
import style from "./pages/dashboard.css";
import script from "./pages/dashboard.js";
import { pageHandler } from "./page";

/** `GET /dashboard`. */
export const dashboardResponse = pageHandler({ title: "edgeclick: advertiser dashboard", style, body, script });
