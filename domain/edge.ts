/**
 * What the edge knows about a request: client IP, geography and the browser's own headers.
 *
 * Geography comes from `request.cf` (filled by Cloudflare for every request). Where it is missing (a
 * local stack, which does not fetch `request.cf`), Cloudflare's request headers stand in: `CF-IPCountry`
 * (CONTRACT), `CF-IPCity` (Cloudflare's "visitor location headers") and the colo suffix of `CF-Ray`.
 * ASN has no header form. Every value is checked: a header is whatever the client sent.
 */
import { CITY_MAX, REFERER_MAX } from "./limits";
import { isCleanText, isCountryCode } from "./schemas";

export interface EdgeContext {
  /** CONTRACT: the client IP is the `CF-Connecting-IP` header. */
  ip: string;
  /** `request.cf.country`, else `CF-IPCountry`, else `XX`. */
  country: string;
  /** `request.cf.city`, else `CF-IPCity`. */
  city: string | null;
  /** `request.cf.asn`. */
  asn: number | null;
  /** `request.cf.colo` (IATA code of the Cloudflare location), else the suffix of `CF-Ray`. */
  colo: string | null;
  user_agent: string | null;
  referer: string | null;
}

function country(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const c = value.trim().toUpperCase();
  return isCountryCode(c) ? c : null;
}

function city(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const c = value.trim().slice(0, CITY_MAX);
  return c && isCleanText(c) ? c : null;
}

function colo(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const c = value.trim().toUpperCase();
  return /^[A-Z]{3,4}$/.test(c) ? c : null;
}

/** `CF-Ray: 8f1c2a3b4c5d6e7f-FRA` names the colo that took the request. */
function coloOfRay(ray: string | null): string | null {
  const m = /^[0-9a-f]+-([A-Za-z]{3,4})$/i.exec(ray?.trim() ?? "");
  return m ? colo(m[1]) : null;
}

export function edgeContext(req: Request): EdgeContext {
  const cf = (req as { cf?: IncomingRequestCfProperties }).cf;
  const asn = Number(cf?.asn);
  const referer = req.headers.get("Referer")?.slice(0, REFERER_MAX) ?? null;
  return {
    ip: req.headers.get("CF-Connecting-IP")?.trim() || "unknown",
    country: country(cf?.country) ?? country(req.headers.get("CF-IPCountry")) ?? "XX",
    city: city(cf?.city) ?? city(req.headers.get("CF-IPCity")),
    // The archive's `asn` column is INT32; every public ASN fits (the larger ones are private-use).
    asn: Number.isSafeInteger(asn) && asn > 0 && asn <= 0x7fff_ffff ? asn : null,
    colo: colo(cf?.colo) ?? coloOfRay(req.headers.get("CF-Ray")),
    user_agent: req.headers.get("User-Agent"),
    referer: referer && isCleanText(referer) ? referer : null,
  };
}
