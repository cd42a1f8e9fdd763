"""Shared geometry: fields to meshes, cleanup, decimation, levels of detail, placement."""
