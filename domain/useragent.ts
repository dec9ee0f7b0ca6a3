/**
 * User-Agent parsing: device type, OS and browser for the breakdowns, and the crawler/tool test behind
 * the `bot_ua` rule. A small parser on purpose: it covers the families that carry ad traffic and is
 * tested on real strings (test/unit/useragent.test.ts); anything it does not know is "unknown".
 */

export type DeviceType = "desktop" | "mobile" | "tablet" | "bot" | "unknown";

export interface UserAgentInfo {
  device_type: DeviceType;
  os: string;
  browser: string;
  is_bot: boolean;
}

/** How much of a User-Agent edgeclick keeps (privacy: long UAs are mostly fingerprinting entropy). */
export const USER_AGENT_MAX = 256;

// CONTRACT: "User-Agent of a crawler/tool: bot, crawler, spider, curl, wget, python-requests, headless…".
// Matched as case-insensitive substrings, as the contract lists them, plus the common HTTP tools.
export const BOT_UA_KEYWORDS = [
  "bot", "crawl", "spider", "slurp", "curl", "wget", "python-requests", "python-urllib", "aiohttp", "httpx",
  "headless", "phantomjs", "selenium", "puppeteer", "playwright", "scrapy", "go-http-client", "okhttp",
  "java/", "libwww", "httpclient", "axios", "node-fetch", "postmanruntime", "facebookexternalhit", "lighthouse",
] as const;

export function isBotUserAgent(ua: string | null | undefined): boolean {
  if (!ua) return false;
  const s = ua.toLowerCase();
  return BOT_UA_KEYWORDS.some((k) => s.includes(k));
}

export function normalizeUserAgent(ua: string | null | undefined): string {
  return (ua ?? "").trim().slice(0, USER_AGENT_MAX);
}

function osOf(ua: string): string {
  if (/iPhone|iPad|iPod/.test(ua)) return "iOS";
  if (/Android/i.test(ua)) return "Android";
  if (/CrOS/.test(ua)) return "ChromeOS";
  if (/Windows Phone/i.test(ua)) return "Windows Phone";
  if (/Windows/i.test(ua)) return "Windows";
  if (/Mac OS X|Macintosh/.test(ua)) return "macOS";
  if (/Linux|X11/.test(ua)) return "Linux";
  return "unknown";
}

function browserOf(ua: string): string {
  if (/Edg(e|A|iOS)?\//.test(ua)) return "Edge";
  if (/OPR\/|Opera/.test(ua)) return "Opera";
  if (/SamsungBrowser\//.test(ua)) return "Samsung Internet";
  if (/Firefox\/|FxiOS\//.test(ua)) return "Firefox";
  if (/Chrome\/|CriOS\/|Chromium\//.test(ua)) return "Chrome";
  if (/Safari\//.test(ua) && /Version\//.test(ua)) return "Safari";
  return "unknown";
}

function deviceOf(ua: string): DeviceType {
  if (/iPad|Tablet|PlayBook|Silk\//i.test(ua) || (/Android/i.test(ua) && !/Mobile/i.test(ua))) return "tablet";
  if (/Mobi|iPhone|iPod|Windows Phone|Android.*Mobile|BlackBerry|Opera Mini/i.test(ua)) return "mobile";
  if (/Windows|Macintosh|Mac OS X|X11|Linux|CrOS/.test(ua)) return "desktop";
  return "unknown";
}

export function parseUserAgent(raw: string | null | undefined): UserAgentInfo {
  const ua = normalizeUserAgent(raw);
  if (!ua) return { device_type: "unknown", os: "unknown", browser: "unknown", is_bot: false };
  const is_bot = isBotUserAgent(ua);
  return { device_type: is_bot ? "bot" : deviceOf(ua), os: osOf(ua), browser: browserOf(ua), is_bot };
}
