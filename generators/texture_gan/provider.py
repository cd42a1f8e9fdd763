"""texture-gan as the default maker of prop materials' maps.

The texture GAN's materials that are also prop sources (wood, marble, stone, fabric; the photo
materials do not go on props) are made by the shipped texture-gan weights instead of the
procedural exemplars: a prop's wooden seat is a generated wood texture, a new one per seed.
`generators.texture.materials` calls `register_default` on first use of its providers, so the
answer does not depend on import order. The provider's version is the served model's version
(code + weights digest), read from the JSON config; the network itself loads on the first
map it makes.
"""

from __future__ import annotations

import json
import logging
import threading

from generators.texture.materials import SOURCES, TextureProvider, register_provider
from generators.texture.pbr import PBRSet
from generators.texture_gan.generator import CONFIG, WEIGHTS, TextureGanGenerator, model_version

log = logging.getLogger(__name__)

_lock = threading.Lock()
_model: list[TextureGanGenerator] = []


def _served() -> TextureGanGenerator:
    with _lock:
        if not _model:
            _model.append(TextureGanGenerator(WEIGHTS, CONFIG))
        return _model[0]


def _make(source: str, size: int, seed: int, convention: str) -> PBRSet:
    return _served().maps(source, seed, size, convention)


def register_default() -> list[str]:
    """Register texture-gan for the prop sources it knows; returns them ([] without a
    readable config: the procedural maps stay, and the texture-gan model itself refuses to
    load with the error that names the fix)."""
    try:
        cfg = json.loads(CONFIG.read_text())
        sources = [m for m in cfg["materials"] if m in SOURCES]
        version = model_version(cfg["sha256"])
    except (OSError, ValueError, KeyError) as err:
        log.warning("texture-gan does not provide prop textures (%s): props keep the "
                    "procedural maps", err)
        return []
    register_provider(TextureProvider("texture-gan", version, _make), sources)
    return sources
