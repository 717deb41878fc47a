"""Noise processes and samplers as pure tensor functions: schedules, DDPM, DDIM, score SDEs,
Langevin dynamics and guidance. A model here is any callable; no module imports a network."""
