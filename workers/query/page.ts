/**
 * A self-contained HTML page (the dashboard, the ops page) under a strict Content Security Policy: only
 * the page's own inline style and script (by hash), calls to this origin, nothing framed or posted elsewhere.
 */
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

async function contentSecurityPolicy(p: Page): Promise<string> {
  return [
    "default-src 'none'",
    `script-src ${await sha256(p.script)}`,
    `style-src ${await sha256(p.style)}`,
    "connect-src 'self'",
    "img-src data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

function html(p: Page): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${p.title}</title>
<link rel="icon" href="data:,">
<style>${p.style}</style>
</head>
<body>${p.body}<script>${p.script}</script>
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
