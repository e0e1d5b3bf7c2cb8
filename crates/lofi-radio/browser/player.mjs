// The player page in a real browser (Debian's Chromium, headless, driven
// by playwright-core): it loads with no console errors, play makes the
// audio advance, a mix slider (and the `d` key) is heard within 2 s by
// what /api/status reports, a changed control reaches the tracks'
// settings, skip changes the track. `--screenshot FILE` also saves the page.
//
//   node player.mjs PATH/TO/lofi [--screenshot docs/img/player.png]
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const lofi = process.argv[2];
const shotAt = process.argv.indexOf("--screenshot");
const shot = shotAt > 0 ? process.argv[shotAt + 1] : null;
if (!lofi) throw new Error("usage: node player.mjs PATH/TO/lofi [--screenshot FILE]");

const cache = mkdtempSync(join(tmpdir(), "lofi-browser-"));
const server = spawn(lofi, ["serve", "--addr", "127.0.0.1:0", "--cache-dir", cache, "--minutes", "0.75", "--seed", "3"], {
  stdio: ["ignore", "pipe", "inherit"],
});
const base = await new Promise((resolve, reject) => {
  let out = "";
  server.stdout.on("data", (d) => {
    out += d;
    const m = out.match(/lofi radio on (http:\/\/[0-9.:]+)\//);
    if (m) resolve(m[1]);
  });
  server.on("exit", (code) => reject(new Error(`lofi serve exited with ${code}`)));
  setTimeout(() => reject(new Error("lofi serve printed no address in 30 s")), 30000);
});

let failed = 0;
function check(ok, what) {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failed++;
}
async function status() {
  return (await fetch(base + "/api/status")).json();
}
async function until(what, seconds, ok) {
  const end = Date.now() + seconds * 1000;
  for (;;) {
    const s = await status();
    if (ok(s)) return s;
    if (Date.now() > end) throw new Error(`waited ${seconds} s for ${what}: ${JSON.stringify(s).slice(0, 600)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"],
});
try {
  await until("a first track", 60, (s) => s.now_playing);
  const page = await browser.newPage({ viewport: { width: 1180, height: 900 } });
  const errors = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(base + "/");
  await page.waitForFunction(() => document.getElementById("title").textContent.startsWith("lofi #"), null, { timeout: 15000 });
  check(true, "the page shows what is playing");

  await page.click("#play");
  await page.waitForFunction(() => document.getElementById("audio").currentTime > 1.5, null, { timeout: 20000 });
  const t = await page.evaluate(() => document.getElementById("audio").currentTime);
  check(t > 1.5, `play: audio.currentTime advanced to ${t.toFixed(2)} s`);

  // Mix controls: a slider move and the `d` key are in the stream within
  // 2 s of the action, as /api/status reports what is heard.
  const moved = Date.now();
  await page.$eval("input[name=brightness]", (el) => { el.value = "0.2"; el.dispatchEvent(new Event("input", { bubbles: true })); });
  const b = await until("brightness heard", 2, (s) => s.settings.brightness === 0.2 && s.heard.brightness && s.heard.brightness.heard_s != null);
  check(true, `brightness slider: heard from stream second ${b.heard.brightness.heard_s.toFixed(2)} (posted at ${b.heard.brightness.posted_s.toFixed(2)}), ${Date.now() - moved} ms after the move`);
  const pressed = Date.now();
  await page.keyboard.press("d");
  const d = await until("d mutes drums", 2, (s) => s.settings.drums_gain === 0 && s.heard.drums_gain && s.heard.drums_gain.heard_s != null);
  check(true, `key d: drums muted, heard ${Date.now() - pressed} ms after the key`);
  await page.keyboard.press("d");
  await until("d unmutes drums", 2, (s) => s.settings.drums_gain === 1);
  check(true, "key d again: drums back at 1");

  // A control: drums off for the next tracks.
  await page.selectOption("select[name=drums]", "off");
  const s1 = await until("the control in the settings", 10, (s) => s.settings.drums === "off");
  check(s1.settings.drums === "off", "the drums control reached /api/status settings");
  const s2 = await until("a next track made with it", 60, (s) => s.queue.some((q) => q.settings.drums === "off"));
  check(true, `the next track (#${s2.queue[0].id}) is made with drums off`);

  const before = s2.now_playing.id;
  await page.click("#skip");
  const s3 = await until("skip", 15, (s) => s.now_playing && s.now_playing.id !== before);
  check(s3.now_playing.id !== before && s3.now_playing.settings.drums === "off",
    `skip: #${before} → #${s3.now_playing.id}, playing with drums ${s3.now_playing.settings.drums}`);
  await page.keyboard.press("n");
  const s4 = await until("n skips", 60, (s) => s.now_playing && s.now_playing.id !== s3.now_playing.id);
  check(true, `key n: #${s3.now_playing.id} → #${s4.now_playing.id}`);

  // The page follows: its title is the new track once heard (burst + buffer).
  await page.waitForFunction((id) => document.getElementById("title").textContent.startsWith(`lofi #${id}`), s4.now_playing.id, { timeout: 20000 });
  check(true, "the page's now playing follows the skip");
  await page.keyboard.press("Space");
  await page.waitForFunction(() => document.getElementById("audio").paused, null, { timeout: 5000 });
  check(true, "space pauses");
  await page.keyboard.press("Space");
  await page.waitForFunction(() => !document.getElementById("audio").paused && document.getElementById("audio").currentTime > 0.5, null, { timeout: 20000 });
  check(true, "space plays again");

  const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
  await phone.goto(base + "/");
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `phone width: no sideways scroll (${overflow} px)`);
  await phone.close();

  if (shot) {
    await page.waitForTimeout(2500);
    await page.screenshot({ path: shot });
    console.log(`screenshot: ${shot}`);
  }
  check(errors.length === 0, `no console errors${errors.length ? ": " + errors.join(" | ") : ""}`);
} finally {
  await browser.close();
  server.kill("SIGINT");
  await new Promise((r) => server.on("exit", r));
  rmSync(cache, { recursive: true, force: true });
}
if (failed) {
  console.log(`${failed} browser check(s) failed`);
  process.exit(1);
}
console.log("browser checks passed");
