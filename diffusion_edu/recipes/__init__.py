"""Trained models the chapters share: each recipe trains through the one loop when its
checkpoint is missing and loads it when present (keyed by its configuration)."""

from diffusion_edu.recipes.diffusion import ddpm_2d, digit_unet
from diffusion_edu.recipes.guidance import digit_dit, dit_config, noisy_classifier_loss, noisy_digit_classifier

__all__ = ["ddpm_2d", "digit_dit", "digit_unet", "dit_config", "noisy_classifier_loss", "noisy_digit_classifier"]
