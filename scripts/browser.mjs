// The Chromium the browser test drives (test/e2e/browser.test.ts): Debian's `chromium` package, installed
// with apt-get when it is missing and this machine allows it. playwright-core drives it; Playwright's own
// browser download is never used (it needs hosts beyond the package registries).
//   node scripts/browser.mjs    (npm run browser)  prints the path, installing Chromium first if needed
import { execFileSync } from "node:child_process";
import { accessSync, constants, realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";

const CANDIDATES = [
  "/usr/bin/chromium",
  "/usr/bin/chromium-browser",
  "/usr/bin/google-chrome",
  "/usr/bin/google-chrome-stable",
  // macOS: Chrome or Chromium installed the usual way.
  "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
  "/Applications/Chromium.app/Contents/MacOS/Chromium",
];

const executable = (path) => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** The Chromium to use: CHROMIUM_PATH if set, else the first one installed; null when there is none. */
export function findChromium() {
  if (process.env.CHROMIUM_PATH) return executable(process.env.CHROMIUM_PATH) ? process.env.CHROMIUM_PATH : null;
  return CANDIDATES.find(executable) ?? null;
}

/** Why apt-get cannot install here, or null when it can. */
function cannotInstall() {
  if (process.platform !== "linux") return `this is ${process.platform}, not Debian or Ubuntu`;
  if (!executable("/usr/bin/apt-get")) return "there is no apt-get (not Debian or Ubuntu)";
  if (process.getuid?.() !== 0) return "installing needs root, and this process is not root";
  return null;
}

const apt = (args) =>
  execFileSync("/usr/bin/apt-get", args, {
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });

/** Chromium's path, after installing Debian's package if it is missing; throws saying why when it cannot. */
export function ensureChromium({ log = (line) => console.error(line) } = {}) {
  const found = findChromium();
  if (found) return found;
  const how = "install Chromium (Debian/Ubuntu: `sudo apt-get install chromium`) or point CHROMIUM_PATH at a Chromium or Chrome executable";
  const path = process.env.CHROMIUM_PATH;
  if (path) throw new Error(`CHROMIUM_PATH=${path} is not an executable file. To run the browser test, ${how}.`);
  const reason = cannotInstall();
  if (reason) throw new Error(`Chromium is not installed and cannot be installed here: ${reason}. To run the browser test, ${how}.`);
  log("edgeclick: Chromium is missing; installing Debian's chromium package (apt-get install -y chromium)…");
  try {
    apt(["install", "-y", "--no-install-recommends", "chromium"]);
  } catch {
    // A fresh machine has no package lists yet.
    try {
      apt(["update"]);
      apt(["install", "-y", "--no-install-recommends", "chromium"]);
    } catch (err) {
      throw new Error(`apt-get could not install chromium (${err.message.split("\n")[0]}). To run the browser test, ${how}.`);
    }
  }
  const installed = findChromium();
  if (!installed) throw new Error(`apt-get installed chromium but none of ${CANDIDATES.join(", ")} exists. Set CHROMIUM_PATH.`);
  return installed;
}

if (import.meta.url === pathToFileURL(realpathSync(process.argv[1] ?? ".")).href) {
  try {
    console.log(ensureChromium());
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
