// The baseline for `npm run bench`: a Worker that does nothing but answer /click's 302, so the
// difference to edgeclick's /click is what edgeclick itself costs (routing, D1 lookup, the campaign
// Durable Object's durable write), not the runtime's own HTTP path.
export default {
  fetch() {
    return new Response(null, { status: 302, headers: { Location: "https://example.com/", "Cache-Control": "no-store" } });
  },
};
