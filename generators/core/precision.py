"""Serving precision: bfloat16 where this CPU multiplies it natively, float32 elsewhere.

Emulated bfloat16 is slower than float32, so a network serves in bfloat16 only on a CPU with
AMX or AVX512-BF16. The choice shapes the bytes a model makes, so models that use it put it in
their version. An environment variable per model (e.g. `VITRINE_DECODER_DTYPE`) overrides it.
"""

from __future__ import annotations

import os

import torch


def native_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AMX or AVX512-BF16)."""
    try:
        return torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported()
    except AttributeError:  # a torch without these probes
        return False


def serving_dtype(env: str) -> torch.dtype:
    """`env`'s value (float32 or bfloat16) when set; else bfloat16 where it is native."""
    name = os.environ.get(env)
    if name:
        if name not in ("float32", "bfloat16"):
            raise ValueError(f"{env} must be float32 or bfloat16, got {name!r}")
        return getattr(torch, name)
    return torch.bfloat16 if native_bfloat16() else torch.float32
