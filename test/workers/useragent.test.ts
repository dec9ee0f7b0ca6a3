import { describe, expect, it } from "vitest";
import { isBotUserAgent, parseUserAgent } from "../../domain/useragent";

describe("User-Agent parsing", () => {
  it.each([
    [
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
      "mobile",
      "iOS",
      "Safari",
    ],
    [
      "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
      "tablet",
      "iOS",
      "Safari",
    ],
    [
      "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36",
      "mobile",
      "Android",
      "Chrome",
    ],
    [
      "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
      "tablet",
      "Android",
      "Chrome",
    ],
    [
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
      "desktop",
      "Windows",
      "Edge",
    ],
    [
      "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
      "desktop",
      "macOS",
      "Safari",
    ],
    ["Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0", "desktop", "Linux", "Firefox"],
    [
      "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
      "desktop",
      "ChromeOS",
      "Chrome",
    ],
    ["Mozilla/5.0 (X11; Fedora; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0", "desktop", "Linux", "Firefox"],
    [
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1",
      "mobile",
      "iOS",
      "Chrome",
    ],
    [
      "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
      "mobile",
      "Android",
      "Samsung Internet",
    ],
    [
      "Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36",
      "unknown",
      "Tizen",
      "Samsung Internet",
    ],
  ])("%s", (ua, device_type, os, browser) => {
    expect(parseUserAgent(ua)).toEqual({ device_type, os, browser, is_bot: false });
  });

  it.each([
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0)",
    "curl/8.4.0",
    "Wget/1.21.4",
    "python-requests/2.31.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Scrapy/2.11 (+https://scrapy.org)",
    "Some crawler/1.0",
    "a Spider of sorts",
  ])("flags %s as a bot", (ua) => {
    expect(isBotUserAgent(ua)).toBe(true);
    expect(parseUserAgent(ua).device_type).toBe("bot");
  });

  it("does not call an absent User-Agent a bot", () => {
    expect(isBotUserAgent("")).toBe(false);
    expect(isBotUserAgent(null)).toBe(false);
    expect(parseUserAgent(undefined)).toEqual({ device_type: "unknown", os: "unknown", browser: "unknown", is_bot: false });
  });
});
