"""Load GLBs in real consumers from Python tests: Blender's glTF importer, three.js in Chromium.

The glTF-Validator (``support.gltf_validator``) says a file follows the spec; these say what two
real consumers make of it. Each call starts ONE consumer process for a whole list of GLBs
(Blender's start-up costs seconds, Chromium's about one):

    from support.consumers import blender_import, three_load, make_skinned_glb

    reports = blender_import([glb_a, glb_b])     # Blender 3.4, `bpy.ops.import_scene.gltf`
    reports = three_load([glb_a, glb_b])         # three.js GLTFLoader in headless Chromium
    assert_consumers_ok(reports)                 # AssertionError listing every failure

Blender report (``tests/support/blender_import.py``): ``ok``, ``error`` (Blender's text),
``import_errors`` and ``import_warnings`` (what the importer logged), ``objects``, ``object_names``, ``meshes`` [{name, vertices, triangles, materials,
vertex_groups, armature, uv_layers, bounds}], ``materials`` [{name, image_textures, images}],
``armatures`` [{name, bones, bone_count, parents, roots}], ``actions`` [{name, frame_range,
fcurves, bones}], ``lights``, ``fps`` and ``bounds`` (all meshes). Bounds are
``{min: [x, y, z], max: [...]}`` in metres in glTF's Y-up frame, converted back from Blender's
Z-up (glTF (x, y, z) = Blender (x, z, -y)); each mesh also has ``bounds_blender``.

three.js report (``tests/support/three_page.html``): ``ok``, ``error``, ``console_errors``,
``console_warnings``, ``page_errors`` (all seen while that file loaded), ``nodes``, ``meshes``,
``triangles``, ``vertices``, ``skinned_meshes``, ``bones``, ``bone_names``, ``materials``
[{name, type, maps}], ``clips`` [{name, duration, tracks}], ``bounds`` (``Box3.setFromObject``),
``render`` {non_background_pixels, non_background_fraction} of one 320x240 WebGL frame, and
with ``play`` one ``animation`` entry per clip: an AnimationMixer at t = 0 and t = duration/4,
``max_node_displacement_m`` (every node's world position, bones included) and
``max_vertex_displacement_m`` (skinned vertices, skinning applied as three's shader does);
``max_vertex_displacement_any_m`` is the largest over t = 1/8 .. 7/8 of the clip, and
``max_root_displacement_m`` how far the skeleton's ``root_bone`` strays (in-place clips: ~0).

Nothing here skips: a missing Blender, Chromium or npm package is a RuntimeError saying what to
install, and so is a consumer that crashes or runs past its timeout.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import trimesh

REPO_ROOT = Path(__file__).resolve().parents[2]
SUPPORT = REPO_ROOT / "tests" / "support"
BLENDER_SCRIPT = SUPPORT / "blender_import.py"
SKINNED_SCRIPT = SUPPORT / "blender_make_skinned.py"
THREE_SCRIPT = SUPPORT / "three_load.mjs"
NODE_PACKAGES = ("three", "playwright-core")
CHROMIUM = os.environ.get("VITRINE_CHROMIUM", "/usr/bin/chromium")

# Measured on the shared 2-core machine under load: Blender starts in ~3.5 s and imports a
# prop's GLB in ~0.1 s; node + Chromium start in ~3.5 s and load one in ~0.2 s (SwiftShader).
# The limits are for a wedged process, not a slow one.
BLENDER_TIMEOUT_S = 60  # plus BLENDER_TIMEOUT_PER_FILE_S per file
BLENDER_TIMEOUT_PER_FILE_S = 10
THREE_TIMEOUT_S = 30  # plus THREE_TIMEOUT_PER_FILE_S per file
THREE_TIMEOUT_PER_FILE_S = 60

# Chromium's own notes about its software GL driver, not messages about the file.
_DRIVER_NOISE = ("GL Driver Message (OpenGL, Performance",)

Blob = bytes | bytearray | memoryview


def _blender() -> str:
    exe = shutil.which(os.environ.get("VITRINE_BLENDER", "blender"))
    if exe is None:
        raise RuntimeError("the Blender consumer check needs `blender` on PATH (Debian: "
                           "`apt-get install blender python3-numpy`; `make test` installs it)")
    return exe


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("the three.js consumer check needs Node.js >= 18 on PATH")
    for pkg in NODE_PACKAGES:
        if not (REPO_ROOT / "node_modules" / pkg / "package.json").is_file():
            raise RuntimeError(f"the npm package {pkg} is not installed; run `npm ci` at the "
                               "repository root (`make test` does)")
    if not Path(CHROMIUM).is_file():
        raise RuntimeError(f"the three.js consumer check needs Chromium at {CHROMIUM} (Debian: "
                           "`apt-get install chromium`; or set VITRINE_CHROMIUM)")
    return node


def _tail(text: str, n: int = 3000) -> str:
    return text if len(text) <= n else "..." + text[-n:]


def _run(cmd: list[str], timeout: float, what: str) -> subprocess.CompletedProcess:
    """Run a consumer in its own process group, so a timeout also ends what it started
    (Chromium's processes under node)."""
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise RuntimeError(f"{what} ran past its {timeout:g} s timeout and was killed; last "
                           f"output:\n{_tail(out + err)}") from None
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {proc.returncode}):\n{_tail(out + err)}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _write(blobs: Sequence[Blob], tmp: Path) -> list[str]:
    paths = []
    for i, blob in enumerate(blobs):
        path = tmp / f"{i:04d}.glb"
        path.write_bytes(bytes(blob))
        paths.append(str(path))
    return paths


def _as_list(blobs: Sequence[Blob] | Blob) -> list[Blob]:
    return [blobs] if isinstance(blobs, (bytes, bytearray, memoryview)) else list(blobs)


def blender_import(glbs: Sequence[Blob] | Blob, names: Sequence[str] | None = None,
                   timeout_s: float | None = None) -> list[dict]:
    """Import each GLB into an empty Blender scene (one Blender process for the list); one
    report per GLB, in order, ``path`` set to ``names[i]`` (else ``blob[i]``). A file Blender
    refuses is ``ok: False`` with its error; Blender itself failing, or running past
    ``timeout_s`` (default: 60 s + 10 s per file), raises RuntimeError."""
    blobs = _as_list(glbs)
    names = list(names) if names is not None else [f"blob[{i}]" for i in range(len(blobs))]
    if len(names) != len(blobs):
        raise ValueError(f"{len(blobs)} blobs but {len(names)} names")
    if not blobs:
        return []
    exe = _blender()
    timeout = (timeout_s if timeout_s is not None else
               BLENDER_TIMEOUT_S + BLENDER_TIMEOUT_PER_FILE_S * len(blobs))
    with tempfile.TemporaryDirectory(prefix="vitrine-blender-") as tmp:
        tmp = Path(tmp)
        manifest, out = tmp / "manifest.json", tmp / "out.json"
        manifest.write_text(json.dumps({"files": _write(blobs, tmp)}))
        proc = _run([exe, "-b", "--factory-startup", "--python-exit-code", "2",
                     "--python", str(BLENDER_SCRIPT), "--", str(manifest), str(out)],
                    timeout, "Blender's glTF import (tests/support/blender_import.py)")
        if not out.is_file():
            raise RuntimeError("blender_import.py wrote no report; Blender said:\n"
                               f"{_tail(proc.stdout + proc.stderr)}")
        reports = json.loads(out.read_text())["reports"]
    if len(reports) != len(blobs):
        raise RuntimeError(f"blender_import.py returned {len(reports)} reports for {len(blobs)}")
    for report, name in zip(reports, names):
        report["path"] = name
    return reports


def three_load(glbs: Sequence[Blob] | Blob, play: bool = True,
               names: Sequence[str] | None = None,
               screenshots: Sequence[str | Path | None] | None = None,
               width: int = 320, height: int = 240,
               timeout_s: float | None = None) -> list[dict]:
    """Load each GLB with three.js's GLTFLoader in one headless Chromium; one report per GLB,
    in order. ``play`` plays every clip (see the module docstring); ``screenshots[i]``, when
    given, is where the rendered frame of GLB i is saved as a PNG. Chromium's notes about its
    software GL driver are dropped from ``console_warnings``. Node, Chromium or the page
    failing, or the whole run passing ``timeout_s``, raises RuntimeError."""
    blobs = _as_list(glbs)
    names = list(names) if names is not None else [f"blob[{i}]" for i in range(len(blobs))]
    if len(names) != len(blobs):
        raise ValueError(f"{len(blobs)} blobs but {len(names)} names")
    if screenshots is not None and len(screenshots) != len(blobs):
        raise ValueError(f"{len(blobs)} blobs but {len(screenshots)} screenshot paths")
    if not blobs:
        return []
    node = _node()
    with tempfile.TemporaryDirectory(prefix="vitrine-three-") as tmp:
        tmp = Path(tmp)
        manifest = tmp / "manifest.json"
        manifest.write_text(json.dumps({
            "files": _write(blobs, tmp), "play": play, "width": width, "height": height,
            "timeout_s": THREE_TIMEOUT_PER_FILE_S,
            "screenshots": ([str(Path(s).resolve()) if s else None for s in screenshots]
                            if screenshots is not None else None),
        }))
        timeout = (timeout_s if timeout_s is not None else
                   THREE_TIMEOUT_S + THREE_TIMEOUT_PER_FILE_S * len(blobs))
        proc = _run([node, str(THREE_SCRIPT), str(manifest)], timeout,
                    "three.js in headless Chromium (tests/support/three_load.mjs)")
    try:
        result = json.loads(proc.stdout)
    except json.JSONDecodeError as err:
        raise RuntimeError(f"three_load.mjs printed no JSON: {_tail(proc.stdout)!r}") from err
    reports = result["reports"]
    # A page-level error outside any file's load is every file's problem.
    shared_errors = result.get("page_errors", []) + result.get("console_errors", [])
    for i, name in enumerate(names):
        if i >= len(reports):  # the page wedged on an earlier file
            reports.append({"ok": False, "error": "not loaded: an earlier file timed out",
                            "console_errors": [], "console_warnings": [], "page_errors": []})
        report = reports[i]
        report["path"] = name
        report["page_errors"] = report.get("page_errors", []) + shared_errors
        report["console_warnings"] = [w for w in report.get("console_warnings", [])
                                      if not w.startswith("[.WebGL") or
                                      not any(n in w for n in _DRIVER_NOISE)]
        report["chromium"] = result.get("chromium")
    return reports


def consumer_problems(reports: Sequence[dict], warnings: bool = True) -> list[str]:
    """One line per failure in ``reports`` (of either consumer): a file not loaded, a console
    or page error, an error Blender's importer logged, and (``warnings``) a warning of either."""
    problems = []
    for r in reports:
        where = r.get("path", "?")
        if not r.get("ok"):
            problems.append(f"{where}: not loaded: {r.get('error')}")
        keys = ["console_errors", "page_errors", "import_errors"]
        if warnings:
            keys += ["console_warnings", "import_warnings"]
        for key in keys:
            problems.extend(f"{where}: {key[:-1].replace('_', ' ')}: {m}" for m in r.get(key, []))
    return problems


def assert_consumers_ok(reports: Sequence[dict], warnings: bool = True) -> None:
    """AssertionError listing every problem of ``consumer_problems``."""
    problems = consumer_problems(reports, warnings)
    if problems:
        raise AssertionError("consumer problems:\n" + "\n".join(problems))


def doubled_faces(glb: Blob) -> int:
    """Triangles of ``glb`` whose three corner positions repeat an earlier triangle's, over all
    primitives of all meshes. Blender's importer merges each mesh's primitives into one mesh
    and drops such a face when it also shares the other's vertices (three draws them all), so
    Blender's triangle count lies between the file's minus this and the file's."""
    scene = trimesh.load(io.BytesIO(bytes(glb)), file_type="glb", process=False)
    seen: set[bytes] = set()
    doubled = 0
    for mesh in scene.geometry.values():
        corners = np.ascontiguousarray(mesh.vertices[mesh.faces], dtype=np.float32)  # [F, 3, 3]
        for tri in corners:
            key = b"".join(sorted(row.tobytes() for row in tri))
            doubled += key in seen
            seen.add(key)
    return doubled


def make_skinned_glb() -> bytes:
    """A skinned, animated GLB exported by Blender itself (``blender_make_skinned.py``): two
    bones Root -> Tip along +Y (2 m), a tube skinned to them, one clip "Bend" (Tip turns 90
    degrees in about a second). A reference to prove the skinning paths of the harnesses."""
    exe = _blender()
    with tempfile.TemporaryDirectory(prefix="vitrine-blender-") as tmp:
        out = Path(tmp) / "skinned.glb"
        proc = _run([exe, "-b", "--factory-startup", "--python-exit-code", "2",
                     "--python", str(SKINNED_SCRIPT), "--", str(out)], 120,
                    "Blender's glTF export (tests/support/blender_make_skinned.py)")
        if not out.is_file():
            raise RuntimeError("blender_make_skinned.py wrote no GLB; Blender said:\n"
                               f"{_tail(proc.stdout + proc.stderr)}")
        return out.read_bytes()
