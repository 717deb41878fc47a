"""Diagrams drawn by code: one small module per picture, each with a draw() that returns a matplotlib Figure."""

from diffusion_edu.present.diagrams import book_map, chains, dit_block, sde_density, unet  # noqa: F401
