// The vitrine web viewer: three.js + WebXR over the server's HTTP face (/v1/...).
//
//   /viewer/?asset=<id>                                     that asset's files, coarsest LOD first
//   /viewer/?model=gallery&category=antiquities&seed=3&exhibits=24   POST /v1/generate, then load
//   &api=http://host:port/v1/                               another server (default: ../v1/)
//
//   &finer=1                                                then swap each exhibit for its
//                                                           prop at the model's own detail
// Any other query key is sent as an option (`exhibits`, `max_triangles`, `pivot`, ...).
// A prop's GLBs arrive one by one, coarsest first; each finer level replaces the one shown.
// Tests read `window.vitrine`: `ready` (a promise for the current load), `scene`, `stats`.
import * as THREE from 'three';
import { GLTFLoader } from 'three/addons/loaders/GLTFLoader.js';
import { OrbitControls } from 'three/addons/controls/OrbitControls.js';
import { VRButton } from 'three/addons/webxr/VRButton.js';
import { RoomEnvironment } from 'three/addons/environments/RoomEnvironment.js';

const EYE_HEIGHT = 1.6;   // m: walking height on a desktop, where a VR session starts
const WALK_SPEED = 1.4;   // m/s, a museum stroll; Shift walks 3x faster
const EXPOSURE_LUX = 2.0;  // exposure = this / the scene's typical lux (photometric lights)
// The options a gallery sets on its exhibits to keep one hall light; ?finer=1 drops them,
// so each exhibit comes back at its model's own detail (more triangles, levels and texels).
const HALL_BUDGET = ['lod_count', 'max_triangles', 'texture_size'];
const ASSET_ID = /^[0-9a-f]{32}$/;  // asset ids: 128 bits of sha256, hex
const RESERVED = new Set(['asset', 'model', 'category', 'seed', 'api', 'env', 'finer']);  // not options

const scriptStart = performance.now();
const params = new URLSearchParams(location.search);
const api = new URL(withSlash(params.get('api') ?? '../v1/'), location.href);

const $ = (id) => document.getElementById(id);
const ui = {
  model: $('model'), category: $('category'), seed: $('seed'), exhibits: $('exhibits'),
  exhibitsRow: $('exhibits-row'), finer: $('finer'), finerRow: $('finer-row'), generate: $('generate'), status: $('status'),
  timings: $('timings'),
};

// ---------------------------------------------------------------------------------------
// Renderer, scene, camera, controls

const renderer = new THREE.WebGLRenderer({ antialias: true });
renderer.setPixelRatio(Math.min(window.devicePixelRatio, 2));
renderer.setSize(window.innerWidth, window.innerHeight);
renderer.outputColorSpace = THREE.SRGBColorSpace;
renderer.toneMapping = THREE.NeutralToneMapping;  // keeps base colours; tames bright spots
renderer.xr.enabled = true;
document.body.appendChild(renderer.domElement);
document.body.appendChild(VRButton.createButton(renderer));

const scene = new THREE.Scene();
scene.background = new THREE.Color(0x1d1f24);
// A soft image-based fill so metals and varnish have something to reflect. Its
// pre-filtering is instant on a GPU but takes 5-10 s on software WebGL (SwiftShader, what
// headless Chromium and GPU-less VMs run), so there it is off unless ?env=1 asks for it.
const software = /swiftshader|llvmpipe|software/i.test(rendererName(renderer));
const useEnv = params.has('env') ? params.get('env') !== '0' : !software;
if (useEnv) {
  const pmrem = new THREE.PMREMGenerator(renderer);
  scene.environment = pmrem.fromScene(new RoomEnvironment(), 0.04).texture;
  pmrem.dispose();
}
const hemi = new THREE.HemisphereLight(0xf4f1ea, 0x3a3530, 0.6);  // sky / ground fill
scene.add(hemi);
// A key light for assets that bring no lights of their own (props); a scene's own
// KHR_lights_punctual lights replace it.
const key = new THREE.DirectionalLight(0xffffff, 1.6);
key.position.set(3, 5, 4);
scene.add(key);

// The camera rides in a rig so a VR session can start where the desktop camera stood.
const rig = new THREE.Group();
scene.add(rig);
const camera = new THREE.PerspectiveCamera(60, window.innerWidth / window.innerHeight, 0.05, 500);
camera.position.set(2, EYE_HEIGHT, 3);
rig.add(camera);

const controls = new OrbitControls(camera, renderer.domElement);
controls.target.set(0, 0.5, 0);
controls.enableDamping = true;
controls.update();

window.addEventListener('resize', () => {
  camera.aspect = window.innerWidth / window.innerHeight;
  camera.updateProjectionMatrix();
  renderer.setSize(window.innerWidth, window.innerHeight);
});

// Walking: WASD / arrow keys move the camera (and what it orbits) on the floor at eye height.
const keys = new Set();
const WALK_KEYS = {
  KeyW: [0, 1], ArrowUp: [0, 1], KeyS: [0, -1], ArrowDown: [0, -1],
  KeyA: [-1, 0], ArrowLeft: [-1, 0], KeyD: [1, 0], ArrowRight: [1, 0],
};
window.addEventListener('keydown', (e) => {
  if (e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement) return;
  if (e.code in WALK_KEYS) { keys.add(e.code); e.preventDefault(); }
  if (e.key === 'Shift') keys.add('Shift');
});
window.addEventListener('keyup', (e) => { keys.delete(e.code); if (e.key === 'Shift') keys.delete('Shift'); });
window.addEventListener('blur', () => keys.clear());

const forward = new THREE.Vector3();
const right = new THREE.Vector3();
function walk(dt) {
  let f = 0, s = 0;
  for (const k of keys) if (k in WALK_KEYS) { s += WALK_KEYS[k][0]; f += WALK_KEYS[k][1]; }
  if (!f && !s) return;
  camera.getWorldDirection(forward);
  forward.y = 0;
  if (forward.lengthSq() < 1e-6) forward.set(0, 0, -1);
  forward.normalize();
  right.crossVectors(forward, camera.up).normalize();
  const step = WALK_SPEED * (keys.has('Shift') ? 3 : 1) * dt;
  camera.position.addScaledVector(forward, f * step).addScaledVector(right, s * step);
  camera.position.y = EYE_HEIGHT;
  // Look level, a little ahead: orbiting then turns the walker's head.
  controls.target.copy(camera.position).addScaledVector(forward, 2);
}

// VR: the headset's pose is relative to the rig, which starts where the camera stood,
// on the floor, facing the way it faced.
const saved = { position: new THREE.Vector3(), quaternion: new THREE.Quaternion() };
renderer.xr.addEventListener('sessionstart', () => {
  saved.position.copy(camera.position);
  saved.quaternion.copy(camera.quaternion);
  camera.getWorldDirection(forward);
  rig.position.set(camera.position.x, 0, camera.position.z);
  rig.rotation.set(0, Math.atan2(-forward.x, -forward.z), 0);
  controls.enabled = false;
});
renderer.xr.addEventListener('sessionend', () => {
  rig.position.set(0, 0, 0);
  rig.rotation.set(0, 0, 0);
  camera.position.copy(saved.position);
  camera.quaternion.copy(saved.quaternion);
  controls.enabled = true;
  controls.update();
});

// Frames are drawn on demand (a change of view, a load, a resize), every frame in VR: an
// idle page costs nothing, which matters most on software WebGL.
let dirty = true;
const redraw = () => { dirty = true; };
controls.addEventListener('change', redraw);
window.addEventListener('resize', redraw);
const timer = new THREE.Timer();
renderer.setAnimationLoop((time) => {
  timer.update(time);
  const dt = Math.min(timer.getDelta(), 0.1);
  if (!renderer.xr.isPresenting) {
    walk(dt);
    controls.update();  // damping: 'change' events while the view settles
    if (!dirty) return;
  }
  dirty = false;
  renderer.render(scene, camera);
  stats.frames += 1;
});

// ---------------------------------------------------------------------------------------
// What was loaded, for the status line and for tests

const stats = {
  state: 'starting',     // starting | idle | generating | loading | ready | error
  request: null,         // {asset: id} or the GenerateRequest sent
  assetId: null,
  kind: null,            // e.g. ASSET_KIND_PROP, ASSET_KIND_SCENE
  header: null,          // the AssetHeader as JSON
  generateMs: null,      // POST /v1/generate round trip
  lods: [],              // every GLB shown, in arrival order: {name, lod, bytes, triangles, fetchMs, parseMs, atMs}
  lodOrder: [],          // the lod of each, in arrival order (coarsest first: 2, 1, 0)
  exhibits: [],          // nodes named by an asset id: {id, position: [x, y, z], extras}
  finer: [],             // ?finer=1: per exhibit {id, assetId, files: [shown, coarsest first], triangles, ms} or {id, error}
  finerMs: null,         // from the hall shown to the last exhibit swapped
  meshes: 0, triangles: 0, lights: 0,
  totalMs: null,         // from the request to the finest level shown
  renderer: null,        // the WebGL renderer's name (SwiftShader: software)
  environment: false,    // whether the image-based fill is on (?env=0|1; off on software WebGL)
  pageMs: {},            // page time (ms since navigation) of: script, catalog, request, shown
  frames: 0,
  error: null,
};

function setStatus(text, isError = false) {
  ui.status.textContent = text;
  ui.status.classList.toggle('error', isError);
}

function showTimings() {
  const parts = [];
  if (stats.generateMs != null) {
    const t = stats.header?.timings ?? {};
    parts.push(`generate ${fmt(stats.generateMs)}` + (t.cacheHit ? ' (cache hit)'
      : t.generateMs ? ` (server ${fmt(t.generateMs)} + export ${fmt(t.exportMs ?? 0)})` : ''));
  }
  for (const l of stats.lods) {
    parts.push(`${l.name} ${kib(l.bytes)} in ${fmt(l.fetchMs)} + parse ${fmt(l.parseMs)}`);
  }
  if (stats.totalMs != null) parts.push(`total ${fmt(stats.totalMs)}`);
  if (stats.finerMs != null) {
    parts.push(`${stats.finer.filter((f) => f.assetId).length} exhibits finer in ${fmt(stats.finerMs)}`);
  }
  ui.timings.textContent = parts.join(' · ');
}

// ---------------------------------------------------------------------------------------
// HTTP

async function call(path, init) {
  const resp = await fetch(new URL(path, api), init);
  const body = await resp.json().catch(() => null);
  if (!resp.ok) {
    const e = body ?? {};
    const what = [e.code ?? `HTTP ${resp.status}`, e.field && `(${e.field})`, e.message]
      .filter(Boolean).join(' ');
    throw new Error(what);
  }
  return body;
}

// The file's bytes, reporting progress as they arrive.
async function download(url, expected, onProgress) {
  const resp = await fetch(url);
  if (!resp.ok) throw new Error(`HTTP ${resp.status} for ${url}`);
  const total = Number(resp.headers.get('Content-Length')) || expected || 0;
  if (!resp.body) return resp.arrayBuffer();
  const reader = resp.body.getReader();
  const parts = [];
  let got = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    got += value.length;
    onProgress(got, total);
  }
  const out = new Uint8Array(got);
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out.buffer;
}

// ---------------------------------------------------------------------------------------
// Loading

const loader = new GLTFLoader();
let shown = null;        // the root currently in the scene
let loadToken = 0;       // a newer load makes an older one stop

function request(fromParams) {
  const finer = fromParams.get('finer') === '1' ? { finer: true } : {};
  if (fromParams.has('asset')) return { asset: fromParams.get('asset'), ...finer };
  if (!fromParams.has('model')) return null;
  const req = { model: fromParams.get('model'), category: fromParams.get('category') ?? '', ...finer };
  if (fromParams.has('seed')) req.seed = fromParams.get('seed');  // uint64: a string in JSON
  const options = {};
  for (const [k, v] of fromParams) {
    if (RESERVED.has(k)) continue;
    options[k] = v !== '' && Number.isFinite(Number(v)) ? Number(v) : v;
  }
  if (Object.keys(options).length) req.options = options;
  return req;
}

async function load(req) {
  const token = ++loadToken;
  const started = performance.now();
  stats.pageMs.request = started;
  Object.assign(stats, {
    state: req.asset ? 'loading' : 'generating', request: req, assetId: null, kind: null,
    header: null, generateMs: null, lods: [], lodOrder: [], exhibits: [], finer: [], finerMs: null, meshes: 0,
    triangles: 0, lights: 0, totalMs: null, error: null,
  });
  showTimings();
  try {
    let answer;
    if (req.asset) {
      setStatus(`fetching asset ${req.asset}`);
      answer = await call(`assets/${encodeURIComponent(req.asset)}`);
    } else {
      setStatus(`generating ${req.model} ${req.category}${req.seed ? ` seed ${req.seed}` : ''}`);
      answer = await call('generate', {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ ...req, finer: undefined }),
      });
      stats.generateMs = performance.now() - started;
    }
    if (token !== loadToken) return stats;
    const header = answer.header ?? answer;
    const urls = new Map((answer.files ?? []).filter((f) => f.url)
      .map((f) => [f.name, new URL(f.url, api).href]));
    stats.header = header;
    stats.assetId = header.assetId ?? header.asset_id;
    stats.kind = header.kind ?? null;
    syncPickers(header);  // the panel says what is shown, ready to vary its seed
    const glbs = (header.files ?? []).filter((f) => f.name.endsWith('.glb'));
    if (!glbs.length) throw new Error(`asset ${stats.assetId} has no GLB to show`);
    stats.state = 'loading';
    showTimings();

    let first = true;
    for (const f of glbs) {  // the header lists them coarsest first
      const url = urls.get(f.name)
        ?? new URL(`assets/${stats.assetId}/${encodeURIComponent(f.name)}`, api).href;
      const t0 = performance.now();
      const bytes = await download(url, Number(f.sizeBytes ?? f.size_bytes ?? 0), (got, total) => {
        if (token === loadToken) {
          setStatus(`loading ${f.name}: ${kib(got)}${total ? ` of ${kib(total)} (${Math.round(100 * got / total)} %)` : ''}`);
        }
      });
      const t1 = performance.now();
      const gltf = await loader.parseAsync(bytes, '');
      if (token !== loadToken) return stats;
      const t2 = performance.now();
      show(gltf.scene, first);
      first = false;
      stats.lods.push({ name: f.name, lod: f.lod ?? 0, bytes: bytes.byteLength,
                        triangles: Number(f.triangles ?? 0), fetchMs: t1 - t0, parseMs: t2 - t1,
                        atMs: t2 - started });
      stats.lodOrder.push(f.lod ?? 0);
      showTimings();
    }
    await nextFrame();
    stats.totalMs = performance.now() - started;
    stats.pageMs.shown = performance.now();
    if (req.finer && stats.exhibits.length) {
      await finerExhibits(token);
      if (token !== loadToken) return stats;
    }
    stats.state = 'ready';
    const what = stats.kind === 'ASSET_KIND_SCENE' ? `${stats.exhibits.length} exhibits, ` : '';
    const swapped = stats.finer.filter((f) => f.assetId).length;
    setStatus(`${header.model ?? ''} ${header.category ?? ''} seed ${header.seed ?? '?'}: ${what}`
      + `${stats.triangles.toLocaleString('en')} triangles, ${stats.lights} lights`
      + (req.finer ? `, ${swapped} of ${stats.exhibits.length} exhibits finer` : ''));
    showTimings();
    return stats;
  } catch (err) {
    if (token !== loadToken) return stats;
    stats.state = 'error';
    stats.error = String(err.message ?? err);
    setStatus(stats.error, true);
    throw err;
  }
}

// Put `root` in the scene in place of what was shown; frame the camera on the first level.
function show(root, frame) {
  if (shown) { scene.remove(shown); dispose(shown); }
  shown = root;
  scene.add(root);
  const lights = count(root);
  // A scene's own lights are photometric (KHR_lights_punctual: candela): expose for the
  // illuminance they give (a gallery's 60-250 lux), and keep the fills as weak as they look
  // on a prop. A prop brings no lights: the key light and the fills light it.
  const lux = lights ? typicalLux(root) : 0;
  renderer.toneMappingExposure = lux ? EXPOSURE_LUX / lux : 1;
  const fill = lux ? lux / EXPOSURE_LUX : 1;
  key.visible = lights === 0;
  hemi.intensity = (lights ? 0.25 : 0.6) * fill;
  scene.environmentIntensity = (lights ? 0.15 : 0.8) * fill;
  redraw();
  if (frame) frameCamera(root);
}

// What `root` holds, into stats: meshes, triangles, lights, and the exhibits (nodes named by
// an asset id); returns the number of lights.
function count(root) {
  let meshes = 0, triangles = 0, lights = 0;
  const exhibits = [];
  root.updateMatrixWorld(true);
  root.traverse((o) => {
    if (o.isMesh) {
      meshes += 1;
      const g = o.geometry;
      triangles += (g.index ? g.index.count : g.attributes.position.count) / 3;
    }
    if (o.isLight) lights += 1;
    if (ASSET_ID.test(o.name)) {
      const p = o.getWorldPosition(new THREE.Vector3());
      exhibits.push({ id: o.name, position: p.toArray(), extras: o.userData ?? {} });
    }
  });
  Object.assign(stats, { meshes, triangles, lights, exhibits });
  return lights;
}

// ?finer=1: each exhibit carries its request (extras.vitrine.request). Asked again without
// the hall's budget options it is the same shape at its model's own detail: its levels
// finer than what the hall shows replace the exhibit in place, coarsest first, one exhibit
// after another (what an engine does with a gallery's exhibit nodes).
async function finerExhibits(token) {
  const t0 = performance.now();
  const nodes = [];
  shown.traverse((o) => { if (ASSET_ID.test(o.name) && o.userData?.vitrine?.request) nodes.push(o); });
  for (const [i, node] of nodes.entries()) {
    const { model, category, seed, options = {} } = node.userData.vitrine.request;
    const opts = Object.fromEntries(Object.entries(options).filter(([k]) => !HALL_BUDGET.includes(k)));
    const entry = { id: node.name };
    stats.finer.push(entry);
    setStatus(`exhibit ${i + 1} of ${nodes.length}: ${model} ${category} seed ${seed}, finer`);
    const tStart = performance.now();
    try {
      const answer = await call('generate', {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ model, category, seed: String(seed), options: opts }),
      });
      if (token !== loadToken) return;
      const header = answer.header;
      const urls = new Map((answer.files ?? []).map((f) => [f.name, new URL(f.url, api).href]));
      let have = trianglesOf(node);
      const levels = header.files.filter((f) => f.name.endsWith('.glb') && Number(f.triangles) > have);
      Object.assign(entry, { assetId: header.assetId, files: [], triangles: have });
      let holder = node;
      for (const f of levels) {
        const gltf = await loader.parseAsync(await download(urls.get(f.name), Number(f.sizeBytes), () => {}), '');
        if (token !== loadToken) return;
        holder = swapInto(holder, gltf.scene, header.assetId);
        have = Number(f.triangles);
        entry.files.push(f.name);
        entry.triangles = have;
        redraw();
      }
      entry.ms = performance.now() - tStart;
    } catch (err) {
      entry.error = String(err.message ?? err);
      console.warn(`vitrine: exhibit ${node.name} stays as the hall made it: ${entry.error}`);
    }
  }
  count(shown);
  stats.finerMs = performance.now() - t0;
  showTimings();
  await nextFrame();
}

function trianglesOf(root) {
  let n = 0;
  root.traverse((o) => {
    if (o.isMesh) n += (o.geometry.index ? o.geometry.index.count : o.geometry.attributes.position.count) / 3;
  });
  return n;
}

// Put `content` where `old` stands (same parent and transform, same name and extras, so it
// is still the exhibit of that asset id); returns the new holder.
function swapInto(old, content, assetId) {
  const holder = new THREE.Group();
  holder.name = old.name;
  holder.userData = { ...old.userData, finer: assetId };
  holder.position.copy(old.position);
  holder.quaternion.copy(old.quaternion);
  holder.scale.copy(old.scale);
  holder.add(content);
  old.parent.add(holder);
  old.parent.remove(old);
  dispose(old);
  return holder;
}

// The median illuminance the scene's lights give the floor straight below them, in lux
// (intensity / height^2 for point and spot lights, a directional light's own intensity).
function typicalLux(root) {
  root.updateMatrixWorld(true);
  const floor = new THREE.Box3().setFromObject(root).min.y;
  const p = new THREE.Vector3();
  const lux = [];
  root.traverse((o) => {
    if (!o.isLight) return;
    if (o.isDirectionalLight) { lux.push(o.intensity); return; }
    const h = Math.max(o.getWorldPosition(p).y - floor, 0.5);
    lux.push(o.intensity / (h * h));
  });
  lux.sort((a, b) => a - b);
  return lux.length ? lux[lux.length >> 1] : 0;
}

function frameCamera(root) {
  const box = new THREE.Box3().setFromObject(root);
  if (box.isEmpty()) return;
  const size = box.getSize(new THREE.Vector3());
  const centre = box.getCenter(new THREE.Vector3());
  camera.far = Math.max(100, 4 * size.length());
  if (stats.kind === 'ASSET_KIND_SCENE' || (size.x > 4 && size.z > 4)) {
    // A hall: stand in the entrance (+Z, the front wall), on the walkway a gallery keeps
    // clear between its doors, a little above eye height, looking down the hall.
    camera.position.set(centre.x + 0.1 * size.x, Math.min(EYE_HEIGHT + 0.8, box.max.y - 0.4),
                        box.max.z - 0.3);
    controls.target.set(centre.x - 0.05 * size.x, 0.9, centre.z - 0.2 * size.z);
  } else {
    // A prop: in front (+Z), a little to the side and above, the whole of it in view.
    const radius = 0.5 * size.length();
    const dist = radius / Math.sin(THREE.MathUtils.degToRad(camera.fov / 2)) * 1.1;
    const dir = new THREE.Vector3(0.45, 0.35, 1).normalize();
    camera.position.copy(centre).addScaledVector(dir, dist);
    controls.target.copy(centre);
  }
  camera.updateProjectionMatrix();
  controls.update();
  redraw();
}

function dispose(root) {
  root.traverse((o) => {
    if (o.geometry) o.geometry.dispose();
    for (const m of [].concat(o.material ?? [])) {
      for (const v of Object.values(m)) if (v?.isTexture) v.dispose();
      m.dispose();
    }
  });
}

const nextFrame = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));

// ---------------------------------------------------------------------------------------
// The panel: pickers filled from /v1/models

let catalog = [];

function fillCategories() {
  const m = catalog.find((x) => x.name === ui.model.value);
  ui.category.replaceChildren(...(m?.categories ?? []).map((c) => new Option(c, c)));
  const ex = (m?.options ?? []).find((o) => o.name === 'exhibits');
  ui.exhibitsRow.hidden = !ex;
  ui.finerRow.hidden = m?.kind !== 'ASSET_KIND_SCENE';
  if (ex) {
    ui.exhibits.min = ex.min ?? 0;
    ui.exhibits.max = ex.max ?? '';
    if (!ui.exhibits.value) ui.exhibits.value = ex.defaultValue ?? ex.default_value ?? '';
  }
}

function syncPickers(header) {
  if (header.model && catalog.some((m) => m.name === header.model)) {
    ui.model.value = header.model;
    fillCategories();
  }
  if (header.category) ui.category.value = header.category;
  if (header.seed) ui.seed.value = header.seed;
}

function fromPanel() {
  const q = new URLSearchParams();
  q.set('model', ui.model.value);
  q.set('category', ui.category.value);
  if (ui.seed.value) q.set('seed', ui.seed.value);
  if (!ui.exhibitsRow.hidden && ui.exhibits.value) q.set('exhibits', ui.exhibits.value);
  if (!ui.finerRow.hidden && ui.finer.checked) q.set('finer', '1');
  if (params.has('api')) q.set('api', params.get('api'));
  return q;
}

ui.model.addEventListener('change', () => { ui.exhibits.value = ''; fillCategories(); });
ui.generate.addEventListener('click', () => {
  const q = fromPanel();
  history.replaceState(null, '', `?${q}`);
  start(request(q));
});

function start(req) {
  const p = load(req);
  p.catch((err) => { err.logged = true; console.error(`vitrine: ${err.message ?? err}`); });
  window.vitrine.ready = p;
  return p;
}

async function init() {
  try {
    // Render models (neural-render) make frames for RenderService, nothing to place in a scene.
    catalog = ((await call('models')).models ?? []).filter((m) => m.kind !== 'ASSET_KIND_RENDER');
  } catch (err) {
    stats.state = 'error';
    stats.error = `cannot list models: ${err.message ?? err}`;
    setStatus(stats.error, true);
    throw err;
  }
  stats.pageMs.catalog = performance.now();
  ui.model.replaceChildren(...catalog.map((m) => new Option(m.name, m.name)));
  const first = request(params);
  ui.model.value = first?.model ?? (catalog.some((m) => m.name === 'gallery') ? 'gallery' : catalog[0]?.name);
  fillCategories();
  if (first?.category) ui.category.value = first.category;
  if (first?.seed) ui.seed.value = first.seed;
  if (first?.options?.exhibits) ui.exhibits.value = first.options.exhibits;
  ui.finer.checked = Boolean(first?.finer);
  if (!first) {
    stats.state = 'idle';
    setStatus('pick a model and press Generate');
    return stats;
  }
  return start(first);
}

stats.pageMs.script = scriptStart;
stats.renderer = rendererName(renderer);
stats.environment = useEnv;
stats.pageMs.scene = performance.now();  // renderer, environment and lights made
window.vitrine = { ready: null, scene, camera, renderer, stats, load: (req) => start(req) };
window.vitrine.ready = init();
window.vitrine.ready.catch((err) => { if (!err.logged) console.error(`vitrine: ${err.message ?? err}`); });

// ---------------------------------------------------------------------------------------

function rendererName(r) {
  const gl = r.getContext();
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  return String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
}
function withSlash(s) { return s.endsWith('/') ? s : `${s}/`; }
function fmt(ms) { return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`; }
function kib(n) { return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${Math.round(n / 1024)} KiB`; }
