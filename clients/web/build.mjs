// Vendors three.js into clients/web/vendor/three/ so the viewer needs no internet and no
// bundler: `node clients/web/build.mjs` (after `npm ci`) copies build/three.module.js, the
// examples/jsm modules viewer.js imports and every file they import relatively, and three's
// LICENSE. The copies are committed (three is MIT), so the HTTP face serves the viewer from
// a plain checkout; tests/test_web_viewer.py fails when they differ from node_modules/three.
//
//   node clients/web/build.mjs           write vendor/three/
//   node clients/web/build.mjs --check   exit 1 (listing the files) if vendor/ is stale
import { readFileSync, writeFileSync, mkdirSync, rmSync, existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, posix } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const THREE = resolve(HERE, '..', '..', 'node_modules', 'three');
const OUT = join(HERE, 'vendor', 'three');

// The importmap in index.html maps 'three' to three.module.js and 'three/addons/' to
// addons/ (three's own convention), so these are the names viewer.js imports.
const ENTRIES = [
  'build/three.module.js',
  'examples/jsm/loaders/GLTFLoader.js',
  'examples/jsm/controls/OrbitControls.js',
  'examples/jsm/webxr/VRButton.js',
  'examples/jsm/environments/RoomEnvironment.js',
];

// build/ -> the vendor root, examples/jsm/ -> addons/ (a folder named build/ is gitignored).
function target(src) {
  if (src.startsWith('build/')) return src.slice('build/'.length);
  if (src.startsWith('examples/jsm/')) return 'addons/' + src.slice('examples/jsm/'.length);
  throw new Error(`unexpected three file ${src}`);
}

// Relative specifiers in static imports/exports (`from './x.js'`, `import './x.js'`).
const IMPORT = /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|(?:^|[\s;])import\s*['"](\.{1,2}\/[^'"]+)['"]/g;

function collect() {
  const seen = new Map();  // three-relative path -> file text
  const todo = [...ENTRIES];
  while (todo.length) {
    const src = todo.pop();
    if (seen.has(src)) continue;
    const text = readFileSync(join(THREE, src), 'utf8');
    seen.set(src, text);
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2];
      todo.push(posix.normalize(posix.join(posix.dirname(src), spec)));
    }
  }
  const files = new Map([...seen].map(([src, text]) => [target(src), text]));
  files.set('LICENSE', readFileSync(join(THREE, 'LICENSE'), 'utf8'));
  const version = JSON.parse(readFileSync(join(THREE, 'package.json'), 'utf8')).version;
  files.set('VERSION', `three ${version}, copied from node_modules/three by clients/web/build.mjs\n`);
  return files;
}

function existing(dir, base = dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? existing(p, base) : [relative(base, p).split('\\').join('/')];
  });
}

const files = collect();
if (process.argv.includes('--check')) {
  const stale = [...files].filter(([name, text]) => !existsSync(join(OUT, name))
    || readFileSync(join(OUT, name), 'utf8') !== text).map(([name]) => name);
  const extra = existing(OUT).filter((name) => !files.has(name));
  if (stale.length || extra.length) {
    console.error(`clients/web/vendor/three is stale (run node clients/web/build.mjs): `
      + [...stale, ...extra.map((n) => `${n} (not needed)`)].join(', '));
    process.exit(1);
  }
  console.log(`clients/web/vendor/three is current: ${files.size} files`);
} else {
  rmSync(OUT, { recursive: true, force: true });
  for (const [name, text] of files) {
    mkdirSync(dirname(join(OUT, name)), { recursive: true });
    writeFileSync(join(OUT, name), text);
  }
  console.log(`wrote ${files.size} files to ${relative(process.cwd(), OUT) || OUT}`);
}
