"""Validate GLB bytes with the Khronos glTF-Validator from Python tests.

The validator is the npm package ``gltf-validator`` (pinned in the repository's
``package-lock.json``), run through ``tests/support/validate_gltf.mjs`` with Node. Every GLB
vitrine ships must pass it with zero errors and zero warnings (docs: DESIGN.md, "Asset
conventions").

    from support.gltf_validator import assert_valid_glb, validate_glb   # tests/ on sys.path

    reports = validate_glb([glb_bytes_a, glb_bytes_b])   # one node process for the whole list
    assert_valid_glb(glb_bytes)                          # AssertionError listing every issue

Nothing here skips: when Node or the npm packages are missing, a RuntimeError says how to get
them (``make test`` runs ``npm ci``), so a missing validator can never pass a test silently.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "tests" / "support" / "validate_gltf.mjs"
VALIDATOR_PACKAGE = REPO_ROOT / "node_modules" / "gltf-validator" / "package.json"

SEVERITY_NAMES = {0: "Error", 1: "Warning", 2: "Information", 3: "Hint"}

# Node starts in well under a second; validating a large GLB takes a few seconds.
_TIMEOUT_S = 600

Blob = bytes | bytearray | memoryview


def _node_executable() -> str:
    node = shutil.which("node")
    if node is None:
        raise RuntimeError(
            "the glTF validator needs Node.js (`node` is not on PATH); install Node >= 18 and "
            "run `make test`, which runs `npm ci` to install the pinned gltf-validator"
        )
    if not VALIDATOR_PACKAGE.is_file():
        raise RuntimeError(
            f"the npm package gltf-validator is not installed ({VALIDATOR_PACKAGE} is missing); "
            "run `make test` (it runs `npm ci` at the repository root)"
        )
    return node


def validate_glb(blobs: Sequence[Blob] | Blob, names: Sequence[str] | None = None) -> list[dict]:
    """Validate each GLB (or glTF JSON) in ``blobs``; return one report per blob, in order.

    A report is ``{path, numErrors, numWarnings, numInfos, numHints, messages}``, each message
    ``{code, severity, message, pointer, offset}`` with the validator's severity numbers
    (0 error, 1 warning, 2 info, 3 hint; see ``SEVERITY_NAMES``). ``path`` is ``names[i]`` when
    given, else ``"blob[i]"``. All blobs are validated by a single Node process.
    """
    if isinstance(blobs, (bytes, bytearray, memoryview)):
        blobs = [blobs]
    blobs = list(blobs)
    if names is None:
        names = [f"blob[{i}]" for i in range(len(blobs))]
    names = list(names)
    if len(names) != len(blobs):
        raise ValueError(f"{len(blobs)} blobs but {len(names)} names")
    if not blobs:
        return []
    node = _node_executable()

    with tempfile.TemporaryDirectory(prefix="vitrine-gltf-") as tmp:
        paths = []
        for i, blob in enumerate(blobs):
            path = Path(tmp) / f"{i:04d}.glb"
            path.write_bytes(bytes(blob))
            paths.append(str(path))
        proc = subprocess.run(
            [node, str(SCRIPT), *paths],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=_TIMEOUT_S,
            check=False,
        )
    if proc.returncode != 0:
        raise RuntimeError(
            f"validate_gltf.mjs failed (exit {proc.returncode}): {proc.stderr.strip()}"
            + ("\n(run `make test`, which runs `npm ci`)" if proc.returncode == 3 else "")
        )
    try:
        reports = json.loads(proc.stdout)
    except json.JSONDecodeError as err:
        raise RuntimeError(f"validate_gltf.mjs printed no JSON: {proc.stdout[:500]!r}") from err
    if len(reports) != len(blobs):
        raise RuntimeError(f"validate_gltf.mjs returned {len(reports)} reports for {len(blobs)}")
    for report, name in zip(reports, names):
        report["path"] = name
    return reports


def format_issues(report: dict, max_severity: int = 1) -> list[str]:
    """One line per message of ``report`` with severity <= ``max_severity`` (1: errors and
    warnings)."""
    lines = []
    for m in report["messages"]:
        if m["severity"] > max_severity:
            continue
        where = (
            m["pointer"]
            if m.get("pointer")
            else (f"byte {m['offset']}" if m.get("offset") is not None else "-")
        )
        severity = SEVERITY_NAMES.get(m["severity"], str(m["severity"]))
        lines.append(f"{report['path']}: {severity} {m['code']} at {where}: {m['message']}")
    return lines


def assert_valid_glb(
    blobs: Sequence[Blob] | Blob,
    allow_infos: bool = True,
    names: Sequence[str] | None = None,
) -> list[dict]:
    """Raise AssertionError unless every blob has zero errors and zero warnings (and zero infos
    when ``allow_infos`` is false). Hints never fail. The message lists every offending issue
    of every file (code, pointer or byte offset, message). Returns the reports."""
    reports = validate_glb(blobs, names=names)
    max_severity = 1 if allow_infos else 2
    problems = []
    for report in reports:
        bad = report["numErrors"] + report["numWarnings"]
        if not allow_infos:
            bad += report["numInfos"]
        if bad:
            problems.append(
                f"{report['path']}: {report['numErrors']} errors, {report['numWarnings']} "
                f"warnings, {report['numInfos']} infos"
            )
            problems.extend("  " + line for line in format_issues(report, max_severity))
    if problems:
        raise AssertionError("glTF-Validator found problems:\n" + "\n".join(problems))
    return reports
