// Drives the web viewer in Debian's headless Chromium (playwright-core) for
// tests/test_web_viewer.py:
//
//   node tests/support/web_viewer.mjs URL [--screenshot out.png] [--timeout-ms 60000]
//        [--width 1280] [--height 720] [--generate 'category=vase&seed=2'] [--press KeyW:800]
//
// Opens URL, waits for `window.vitrine.ready`, takes the screenshot, optionally sets the
// panel's pickers and presses Generate (waiting for that load too), optionally holds a key
// down for some ms (walking), and prints one JSON line: the viewer's stats, the names
// of every object in the scene, the camera position, and every console error, page error
// and failed request seen. Exit 0 when the page reported, 1 when it could not be driven.
import { chromium } from 'playwright-core';

const argv = process.argv.slice(2);
const url = argv[0];
const opt = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : fallback;
};
const timeout = Number(opt('timeout-ms', 60000));

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
         '--disable-component-update', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'],
});
const report = { console: [], pageErrors: [], failedRequests: [], http: [] };
try {
  const page = await browser.newPage({
    viewport: { width: Number(opt('width', 1280)), height: Number(opt('height', 720)) },
  });
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') report.console.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => report.pageErrors.push(String(e.stack ?? e)));
  page.on('requestfailed', (r) => report.failedRequests.push(`${r.url()}: ${r.failure()?.errorText}`));
  page.on('response', (r) => report.http.push({ url: r.url(), status: r.status() }));
  await page.goto(url, { waitUntil: 'load', timeout });
  const t0 = Date.now();
  report.loaded = await page.evaluate(async (ms) => {
    const until = Date.now() + ms;
    while (!window.vitrine?.ready) {
      if (Date.now() > until) return 'no window.vitrine';
      await new Promise((r) => setTimeout(r, 20));
    }
    const timer = new Promise((r) => setTimeout(() => r('timeout'), ms));
    return Promise.race([window.vitrine.ready.then(() => 'ready', (e) => `error: ${e.message ?? e}`), timer]);
  }, timeout);
  report.waitMs = Date.now() - t0;
  const shot = opt('screenshot', null);
  if (shot) await page.screenshot({ path: shot });
  const generate = opt('generate', null);
  if (generate) {  // the panel: set pickers (id=value&...), press Generate, wait again
    report.before = await page.evaluate(() => JSON.parse(JSON.stringify(window.vitrine.stats)));
    for (const [id, value] of new URLSearchParams(generate)) {
      const tag = await page.locator(`#${id}`).evaluate((el) => el.tagName);
      if (tag === 'SELECT') await page.selectOption(`#${id}`, value);
      else await page.fill(`#${id}`, value);
    }
    await page.click('#generate');
    report.loadedAfterGenerate = await page.evaluate(
      (ms) => Promise.race([window.vitrine.ready.then(() => 'ready', (e) => `error: ${e.message ?? e}`),
                            new Promise((r) => setTimeout(() => r('timeout'), ms))]), timeout);
    report.url = page.url();
  }
  const press = opt('press', null);
  if (press) {
    const [key, ms] = press.split(':');
    report.cameraBefore = await page.evaluate(() => window.vitrine.camera.position.toArray());
    await page.keyboard.down(key);
    await page.waitForTimeout(Number(ms));
    await page.keyboard.up(key);
  }
  report.state = await page.evaluate(() => {
    const v = window.vitrine;
    const names = [];
    v.scene.traverse((o) => { if (o.name) names.push(o.name); });
    return { stats: JSON.parse(JSON.stringify(v.stats)), names,
             camera: v.camera.position.toArray(),
             status: document.getElementById('status').textContent,
             vrButton: document.getElementById('VRButton')?.textContent ?? null,
             timings: document.getElementById('timings').textContent,
             models: [...document.getElementById('model').options].map((o) => o.value),
             categories: [...document.getElementById('category').options].map((o) => o.value) };
  });
} catch (err) {
  report.driverError = String(err.stack ?? err);
}
await browser.close();
console.log(JSON.stringify(report));
process.exit(report.driverError ? 1 : 0);
