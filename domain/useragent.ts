/**
 * User-Agent parsing: device type, OS and browser for the breakdowns (ua-parser-js), and the crawler/tool
 * test behind the `bot_ua` rule (ours: the contract defines it). Tested on real strings
 * (test/workers/useragent.test.ts); anything not recognised is "unknown".
 */
import UAParser from "ua-parser-js";

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
const BOT_UA_KEYWORDS = [
  "bot",
  "crawl",
  "spider",
  "slurp",
  "curl",
  "wget",
  "python-requests",
  "python-urllib",
  "aiohttp",
  "httpx",
  "headless",
  "phantomjs",
  "selenium",
  "puppeteer",
  "playwright",
  "scrapy",
  "go-http-client",
  "okhttp",
  "java/",
  "libwww",
  "httpclient",
  "axios",
  "node-fetch",
  "postmanruntime",
  "facebookexternalhit",
  "lighthouse",
] as const;

export function isBotUserAgent(ua: string | null | undefined): boolean {
  if (!ua) return false;
  const s = ua.toLowerCase();
  return BOT_UA_KEYWORDS.some((k) => s.includes(k));
}

export function normalizeUserAgent(ua: string | null | undefined): string {
  return (ua ?? "").trim().slice(0, USER_AGENT_MAX);
}

/** ua-parser's device types that are ours. It gives desktops none; consoles, TVs, XR and embedded devices are none of ours. */
const DEVICE_TYPES: Record<string, DeviceType> = { mobile: "mobile", wearable: "mobile", tablet: "tablet" };

/** The names the breakdowns have always used: one "Linux" for the distributions, "ChromeOS" in one word. */
const OS_NAMES: Record<string, string> = {
  "Chrome OS": "ChromeOS",
  "Chromium OS": "ChromeOS",
  "Mac OS": "macOS",
  "Windows Mobile": "Windows Phone",
  Arch: "Linux",
  CentOS: "Linux",
  Debian: "Linux",
  Deepin: "Linux",
  "elementary OS": "Linux",
  Fedora: "Linux",
  Gentoo: "Linux",
  Kubuntu: "Linux",
  Manjaro: "Linux",
  Mint: "Linux",
  RedHat: "Linux",
  SUSE: "Linux",
  Slackware: "Linux",
  Ubuntu: "Linux",
  Xubuntu: "Linux",
};

/** A User-Agent with no device type is a desktop when its OS is one. */
const DESKTOP_OS = new Set(["Windows", "macOS", "Linux", "ChromeOS", "FreeBSD", "NetBSD", "OpenBSD", "Solaris", "Unix"]);

/** ua-parser names mobile builds apart ("Mobile Safari") and Chrome's embeddings; the breakdowns count the browser. */
const BROWSER_NAMES: Record<string, string> = { "Chrome Headless": "Chrome", "Chrome WebView": "Chrome", Chromium: "Chrome" };

const browserName = (name: string) => {
  const base = name.startsWith("Mobile ") ? name.slice("Mobile ".length) : name;
  return BROWSER_NAMES[base] ?? base;
};

/**
 * ua-parser takes some 50 µs a string (a posted batch of 1,000 events would spend 50 ms on it); traffic
 * repeats a few hundred User-Agents, so an isolate keeps its answers, dropping the oldest past the bound.
 */
const parsed = new Map<string, UserAgentInfo>();
const PARSED_MAX = 2_000;

export function parseUserAgent(raw: string | null | undefined): UserAgentInfo {
  const ua = normalizeUserAgent(raw);
  if (!ua) return { device_type: "unknown", os: "unknown", browser: "unknown", is_bot: false };
  let info = parsed.get(ua);
  if (!info) {
    info = parse(ua);
    parsed.set(ua, info);
    if (parsed.size > PARSED_MAX) parsed.delete(parsed.keys().next().value as string);
  }
  return { ...info };
}

function parse(ua: string): UserAgentInfo {
  const r = UAParser(ua);
  const os = r.os.name ? (OS_NAMES[r.os.name] ?? r.os.name) : "unknown";
  const browser = r.browser.name ? browserName(r.browser.name) : "unknown";
  const device = r.device.type ? (DEVICE_TYPES[r.device.type] ?? "unknown") : DESKTOP_OS.has(os) ? "desktop" : "unknown";
  const is_bot = isBotUserAgent(ua);
  return { device_type: is_bot ? "bot" : device, os, browser, is_bot };
}
