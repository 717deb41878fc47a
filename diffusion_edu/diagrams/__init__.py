"""Diagrams drawn by code: one small module per picture, each with a draw() that returns a matplotlib Figure."""

from diffusion_edu.diagrams import book_map, dit_block, sde_density  # noqa: F401
