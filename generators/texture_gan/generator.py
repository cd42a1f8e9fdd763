"""The `texture-gan` model: a trained tileable texture GAN -> PBR maps (a texture asset).

Weights ship in `generators/texture_gan/weights/`: `texture-gan.safetensors` (fp16, the EMA
generator only) and `texture-gan.json` (constructor arguments, material names, the weights'
sha256, the normal strength and the training record). Both are written by
`python -m generators.texture_gan.export`. A missing, truncated or altered file refuses to load
with a `ModelLoadError` that names the file and the command that rebuilds it.

One request: (material, seed, texture_size, normal_convention) -> a latent grid on the torus
(a pure function of seed and material) -> one generator forward -> albedo, height, roughness
-> `pbr_from_albedo_height` -> an `Asset` of kind "texture": a `Material` whose `textures` are
the maps and no meshes. Everything wraps, so the maps tile.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from generators.core.asset import KIND_TEXTURE, Asset, CancelToken, Material, Spec
from generators.core.errors import ModelLoadError
from generators.core.options import OptionSpec
from generators.core.registry import Generator, GeneratorInfo, make_version
from generators.core.weights import load_network, shipped_paths
from generators.texture.materials import SOURCES, TextureProvider
from generators.texture.pbr import CONVENTIONS, MAX_SIZE, MIN_SIZE, PBRSet, pbr_from_albedo_height
from generators.texture_gan.model import UPSAMPLE, TextureGenerator, for_inference

log = logging.getLogger(__name__)

WEIGHTS, CONFIG, REBUILD = shipped_paths(__file__, "texture-gan", run="runs/texture-gan-ft")

TEXTURE_SIZE = OptionSpec(
    "texture_size", "int", 512, "edge length of every map in pixels",
    min=MIN_SIZE, max=MAX_SIZE, power_of_two=True,
)
NORMAL_CONVENTION = OptionSpec(
    "normal_convention", "enum", "opengl",
    "tangent-space normal map green axis: opengl (+Y up: glTF, Unity, Blender) or directx "
    "(-Y: Unreal)",
    choices=CONVENTIONS,
)
TEXTURE_OPTIONS: tuple[OptionSpec, ...] = (TEXTURE_SIZE, NORMAL_CONVENTION)
DEFAULT_NORMAL_STRENGTH = 1.0  # as the exemplars' own maps (Exemplar.pbr), so they compare


# One network per process and weights file: every TextureGanGenerator built on the same files
# (tests, evaluations, the server) shares the read-only inference network. Keyed by the files' paths, sizes and modification times and the
# config's text: a changed file loads (and is checked) afresh.
_LOADED: dict[tuple, tuple[TextureGenerator, dict]] = {}
_LOADED_LOCK = threading.Lock()


def _file_key(path: Path) -> tuple:
    st = path.stat()
    return str(path.resolve()), st.st_size, st.st_mtime_ns


def load_weights(weights: Path = WEIGHTS, config: Path = CONFIG) -> tuple[TextureGenerator, dict]:
    """The EMA generator in eval mode, and its JSON config; ModelLoadError on any defect.
    Loaded once per process for the same files (shared: do not modify either)."""
    try:
        key = (_file_key(weights), _file_key(config), config.read_text())
    except OSError:  # missing or unreadable: load_network names the file and the fix
        key = None
    with _LOADED_LOCK:
        if key is not None and key in _LOADED:
            return _LOADED[key]
        G, cfg = load_network("texture-gan", TextureGenerator, weights, config, REBUILD,
                              required=("materials",), labels="materials")
        loaded = for_inference(G), cfg
        if key is not None:
            _LOADED[key] = loaded
        return loaded


def latent_noise(G: TextureGenerator, seed: int, material_index: int,
                 size: int) -> tuple[torch.Tensor, ...]:
    """G's random inputs for one texture (`TextureGenerator.sample_noise`): a pure function of
    its arguments."""
    g = torch.Generator().manual_seed((int(seed) * 1_000_003 + material_index) % 2**63)
    return G.sample_noise(1, size // UPSAMPLE, g)


# Where the torus is cut into a square. G's output is exactly periodic, so any cut tiles. But G
# builds each 16-pixel latent cell from 2x2 sub-pixel blocks, and a trained G keeps some
# dependence of its neighbour steps on the position inside the cell: the wrap step, being one
# particular position, may be systematically rougher or smoother than the average step. The
# export measures that profile per axis and stores the (row, column) roll whose wrap steps are
# closest to the average as "cut_offset" (`export.choose_cut_offset`); the cell grid itself is
# reported by `vitrine eval texture-gan`'s "cell edge" column. This is the default for configs
# without one; older configs store one int for both axes.
CUT_OFFSET = 6


def as_cut(value: int | Sequence[int]) -> tuple[int, int]:
    """A cut offset as (rows, columns) in 0 .. 15: an int (both axes) or a pair."""
    r, c = (value, value) if isinstance(value, int | np.integer) else tuple(value)
    if not all(0 <= int(v) < UPSAMPLE for v in (r, c)):
        raise ValueError(f"cut offset must lie in 0 .. {UPSAMPLE - 1}, got {value!r}")
    return int(r), int(c)


@torch.inference_mode()
def synthesize(G: TextureGenerator, material_index: int, seed: int, size: int,
               cut_offset: int | Sequence[int] = CUT_OFFSET, quarter_turns: int = 0,
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(albedo sRGB [S, S, 3], height [S, S], roughness [S, S]) float32 in [0, 1], tileable.

    The torus is cut at `cut_offset` in G's frame, then turned by `quarter_turns` (np.rot90)
    into the exemplar's frame (`config.G_QUARTER_TURNS`)."""
    z = [t.contiguous(memory_format=torch.channels_last) if t.ndim == 4 else t
         for t in latent_noise(G, seed, material_index, size)]
    x = G(torch.tensor([material_index]), *z)[0]  # [5, S, S] in [-1, 1]
    cut = as_cut(cut_offset)
    if any(cut):
        x = torch.roll(x, cut, dims=(1, 2))
    if quarter_turns % 4:
        x = torch.rot90(x, quarter_turns, dims=(1, 2))
    y = (x * 0.5 + 0.5).clamp_(0, 1).permute(1, 2, 0).contiguous().numpy()
    return y[..., :3], y[..., 3], y[..., 4]


class TextureGanGenerator(Generator):
    PREFIX, VERSION = "tgan-", "3"  # bump when the bytes change (see tests/test_golden.py);
    # 3: brick served turned (`quarter_turns`)
    # The maps alone (what props wear): bump when the maps change, not their export.
    MAPS_VERSION = "1"

    def __init__(self, weights: Path = WEIGHTS, config: Path = CONFIG,
                 name: str = "texture-gan") -> None:
        self.net, self.cfg = load_weights(Path(weights), Path(config))
        self.materials = tuple(self.cfg["materials"])
        self.normal_strength = float(self.cfg.get("normal_strength", DEFAULT_NORMAL_STRENGTH))
        try:
            self.cut_offset = as_cut(self.cfg.get("cut_offset", CUT_OFFSET))
            self.cut_offsets = {m: as_cut(c)
                                for m, c in self.cfg.get("cut_offsets", {}).items()}
        except (TypeError, ValueError, AttributeError) as err:
            raise ModelLoadError(f"texture-gan: {config} has a bad cut_offset(s): {err}") from err
        turns = self.cfg.get("quarter_turns", {})
        if not isinstance(turns, dict) or not all(
                m in self.materials and isinstance(k, int) for m, k in turns.items()):
            raise ModelLoadError(f"texture-gan: {config} has a bad quarter_turns {turns!r}: "
                                 "want {material: int}")
        self.quarter_turns = {m: int(k) % 4 for m, k in turns.items()}
        self.info = GeneratorInfo(
            name=name,
            kind=KIND_TEXTURE,
            version=make_version(self.PREFIX, self.VERSION, self.cfg["sha256"]),
            description="Tileable PBR material textures (base colour, normal, ORM) from a "
                        "material-conditioned spatial GAN (PSGAN family); any power-of-two size.",
            categories=self.materials,
            options=TEXTURE_OPTIONS,
        )

    @property
    def prop_sources(self) -> tuple[str, ...]:
        """The prop materials' source textures this model makes (the photo materials do not
        tile, so they never go on a prop)."""
        return tuple(m for m in self.materials if m in SOURCES)

    def texture_provider(self) -> TextureProvider:
        """This model as the maker of prop materials' maps (`MaterialLibrary`): a new texture
        per seed, versioned with this model."""
        return TextureProvider(self.info.name,
                               make_version(f"{self.PREFIX}maps", self.MAPS_VERSION,
                                            self.cfg["sha256"]),
                               lambda source, size, seed, convention:
                               self.maps(source, seed, size, convention))

    def cut_for(self, material: str) -> tuple[int, int]:
        """Where this material's torus is cut (rows, columns): its own entry, else the
        model-wide one (see `CUT_OFFSET`)."""
        return self.cut_offsets.get(material, self.cut_offset)

    def maps(self, material: str, seed: int, size: int, convention: str = "opengl",
             cancel: CancelToken | None = None) -> PBRSet:
        """The PBR maps of one (material, seed, size, convention)."""
        albedo, height, rough = synthesize(self.net, self.materials.index(material), seed, size,
                                           self.cut_for(material),
                                           self.quarter_turns.get(material, 0))
        if cancel:
            cancel.check()
        return pbr_from_albedo_height(albedo, height, rough, 0.0, self.normal_strength,
                                      convention)

    def generate_one(self, spec: Spec, cancel: CancelToken | None = None) -> Asset:
        t0 = time.perf_counter()
        size, convention = spec.options["texture_size"], spec.options["normal_convention"]
        pbr = self.maps(spec.category, spec.seed, size, convention, cancel)
        # glTF multiplies each map by its factor: white base colour, metallic and roughness
        # factors 1, so the maps alone carry the look (ORM blue is 0: dielectric).
        material = Material(spec.category, (1.0, 1.0, 1.0, 1.0), metallic=1.0, roughness=1.0,
                            textures=pbr)
        return Asset(kind=KIND_TEXTURE, category=spec.category, seed=spec.seed,
                     material=material,
                     metadata={"texture_size": size, "normal_convention": convention,
                               "maps_ms": round((time.perf_counter() - t0) * 1e3, 1)})
