"""The one training loop (progress bar, EMA, gradient clipping, the non-finite guard), the GAN's
alternating loop built on its guards, checkpoints and the on-disk model cache."""
