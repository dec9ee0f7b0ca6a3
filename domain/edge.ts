/** What the edge knows about a request: client IP, geography and the browser's own headers. */
import { isCountryCode } from "./schemas";

export interface EdgeContext {
  /** CONTRACT: the client IP is the `CF-Connecting-IP` header. */
  ip: string;
  /** `request.cf.country`, else `CF-IPCountry`, else `XX`. */
  country: string;
  city: string | null;
  asn: number | null;
  colo: string | null;
  user_agent: string | null;
  referer: string | null;
}

function country(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const c = value.trim().toUpperCase();
  return isCountryCode(c) ? c : null;
}

export function edgeContext(req: Request): EdgeContext {
  const cf = (req as { cf?: IncomingRequestCfProperties }).cf;
  const asn = Number(cf?.asn);
  return {
    ip: req.headers.get("CF-Connecting-IP")?.trim() || "unknown",
    country: country(cf?.country) ?? country(req.headers.get("CF-IPCountry")) ?? "XX",
    city: typeof cf?.city === "string" ? cf.city.slice(0, 128) : null,
    asn: Number.isSafeInteger(asn) && asn > 0 ? asn : null,
    colo: typeof cf?.colo === "string" ? cf.colo.slice(0, 8) : null,
    user_agent: req.headers.get("User-Agent"),
    referer: req.headers.get("Referer")?.slice(0, 2048) ?? null,
  };
}
