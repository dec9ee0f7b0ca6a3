/**
 * A self-contained HTML page (the dashboard, the ops page) under a strict Content Security Policy: only
 * the page's own inline style and script (by hash), calls to this origin, nothing framed or posted elsewhere.
 * The pages' markup, style and script are files in pages/, imported as text (wrangler [[rules]] type "Text").
 */
import common from "./pages/common.js";

export interface Page {
  title: string;
  style: string;
  body: string;
  script: string;
}

async function sha256(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return `'sha256-${btoa(String.fromCharCode(...digest))}'`;
}

/**
 * The inline `<style>` and `<script>` texts, exactly as they sit between their tags: what the CSP hashes.
 * The shared page code (pages/common.js) goes in front of the page's own, in the same script: one hash.
 */
function inline(p: Page): { style: string; script: string } {
  return { style: `\n${p.style}`, script: `\n${common}\n${p.script}` };
}

async function contentSecurityPolicy(p: Page): Promise<string> {
  const { style, script } = inline(p);
  return [
    "default-src 'none'",
    `script-src ${await sha256(script)}`,
    `style-src ${await sha256(style)}`,
    "connect-src 'self'",
    "img-src data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

function html(p: Page): string {
  const { style, script } = inline(p);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${p.title}</title>
<link rel="icon" href="data:,">
<style>${style}</style>
</head>
<body>
${p.body}<script>${script}</script>
</body>
</html>
`;
}

/** Serves a page; its policy and markup are computed once per isolate. */
export function pageHandler(p: Page): () => Promise<Response> {
  let cached: Promise<{ body: string; csp: string }> | undefined;
  return async () => {
    cached ??= contentSecurityPolicy(p).then((csp) => ({ body: html(p), csp }));
    const { body, csp } = await cached;
    return new Response(body, {
      headers: {
        "Content-Type": "text/html; charset=utf-8",
        "Cache-Control": "no-store",
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
      },
    });
  };
}
