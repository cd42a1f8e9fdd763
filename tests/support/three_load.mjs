#!/usr/bin/env node
// Load GLBs with three.js's GLTFLoader in headless Chromium (playwright-core), as a web client
// of vitrine does, and report what three made of each.
//
//   node tests/support/three_load.mjs MANIFEST.json
//
// MANIFEST.json: {files: [path, ...], play: bool, width: int, height: int,
//                 screenshots: [png path or null, ...] (optional), timeout_s: number}
// Prints ONE JSON object to stdout: {chromium, page_errors, reports: [...]}, one report per file
// in order (fields: tests/support/three_page.html's vitrineLoad, plus console_errors,
// console_warnings and page_errors seen while that file was loaded). Nothing is fetched from
// the network: a local HTTP server on 127.0.0.1 serves three_page.html, three from
// node_modules and the GLBs. Exit code 0 whatever the files contain (the caller judges);
// nonzero only when this script fails (bad manifest, Chromium will not start, no WebGL).

import { readFileSync, writeFileSync, createReadStream, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..', '..');
const THREE_DIR = join(ROOT, 'node_modules', 'three');
const PAGE = join(HERE, 'three_page.html');
const CHROMIUM = process.env.VITRINE_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update',
  // no GPU here: WebGL runs on SwiftShader, which Chromium only allows when asked
  '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
];
const TYPES = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.html': 'text/html',
  '.json': 'application/json', '.glb': 'model/gltf-binary' };

function fail(message, code = 1) {
  process.stderr.write(`error: ${message}\n`);
  process.exit(code);
}

function serve(files) {
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    let path = null;
    if (url.pathname === '/' || url.pathname === '/index.html') path = PAGE;
    else if (url.pathname.startsWith('/three/')) {
      const p = normalize(join(THREE_DIR, decodeURIComponent(url.pathname.slice(7))));
      if (p.startsWith(THREE_DIR + sep)) path = p;
    } else if (url.pathname.startsWith('/glb/')) {
      const i = Number(url.pathname.slice(5));
      if (Number.isInteger(i) && i >= 0 && i < files.length) path = files[i];
    }
    if (path === null || !existsSync(path) || !statSync(path).isFile()) {
      res.writeHead(404).end();
      return;
    }
    const ext = path.slice(path.lastIndexOf('.'));
    res.writeHead(200, { 'Content-Type': TYPES[ext] || 'application/octet-stream',
      'Content-Length': statSync(path).size });
    createReadStream(path).pipe(res);
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

function withTimeout(promise, seconds, what) {
  let timer;
  const timeout = new Promise((_, no) => {
    timer = setTimeout(() => no(new Error(`${what} timed out after ${seconds} s`)), seconds * 1000);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function main(argv) {
  if (argv.length !== 3) fail('usage: node tests/support/three_load.mjs MANIFEST.json', 2);
  const manifest = JSON.parse(readFileSync(argv[2], 'utf8'));
  const files = manifest.files.map((f) => resolve(f));
  const shots = manifest.screenshots || files.map(() => null);
  const options = { play: manifest.play !== false, width: manifest.width || 320,
    height: manifest.height || 240 };
  const perFile = manifest.timeout_s || 60;

  let chromium;
  try {
    ({ chromium } = createRequire(import.meta.url)('playwright-core'));
  } catch (err) {
    fail(`cannot load the npm package playwright-core (${err.message}); run \`npm ci\``, 3);
  }
  const server = await serve(files);
  const base = `http://127.0.0.1:${server.address().port}`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const out = { chromium: browser.version(), page_errors: [], console_errors: [],
    console_warnings: [], reports: [] };
  try {
    const page = await browser.newPage();
    // Console output is charged to the file loaded last: messages that arrive just after its
    // load resolved (they come over the DevTools protocol) still belong to it. Only output
    // before the first file is the page's own.
    let current = null;
    const sink = () => current || out;
    page.on('console', (msg) => {
      const entry = msg.text();
      if (msg.type() === 'error') (sink().console_errors ||= []).push(entry);
      else if (msg.type() === 'warning') (sink().console_warnings ||= []).push(entry);
    });
    page.on('pageerror', (err) =>
      (sink().page_errors ||= []).push(String(err && err.stack ? err.stack : err)));
    page.on('requestfailed', (req) =>
      (sink().console_errors ||= []).push(`request failed: ${req.url()} ${req.failure()?.errorText}`));
    await page.goto(`${base}/`);
    await page.waitForFunction(() => window.vitrineReady === true, null, { timeout: 30000 });
    const webgl = await page.evaluate(() => {
      const gl = document.createElement('canvas').getContext('webgl2');
      return gl ? gl.getParameter(gl.VERSION) : null;
    });
    if (!webgl) throw new Error('no WebGL2 context in headless Chromium (SwiftShader flags?)');
    out.webgl = webgl;

    for (let i = 0; i < files.length; i++) {
      current = { path: files[i], console_errors: [], console_warnings: [], page_errors: [] };
      let report;
      const t0 = Date.now();
      try {
        report = await withTimeout(
          page.evaluate(({ url, opts }) => window.vitrineLoad(url, opts),
            { url: `${base}/glb/${i}`, opts: { ...options, screenshot: Boolean(shots[i]) } }),
          perFile, `loading ${files[i]}`);
      } catch (err) {
        report = { ok: false, error: String(err && err.message ? err.message : err) };
      }
      report.ms = Date.now() - t0;
      if (report.screenshot) {
        writeFileSync(shots[i], Buffer.from(report.screenshot.split(',')[1], 'base64'));
        report.screenshot = shots[i];
      }
      Object.assign(current, report);
      out.reports.push(current);
      if (report.error && report.error.includes('timed out')) break; // the page is wedged
      // let late console events of this file arrive before the next file starts
      await page.evaluate(() => new Promise((ok) => setTimeout(ok, 50)));
    }
  } finally {
    await browser.close();
    server.close();
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main(process.argv).catch((err) => fail(err && err.stack ? err.stack : String(err)));
