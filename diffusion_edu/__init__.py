"""diffusion-edu: the package behind the book *Diffusion models, proved and trained*.

One folder per layer; a layer imports only the layers below it (an import-linter contract in
``pyproject.toml``, checked by ``make test``), from the top:

present      plots, animations, widgets, diagrams
metrics      sample quality against real-vs-real floors
recipes      trained models the chapters share (train when missing, load when cached)
training     the one loop, checkpoints, the model cache
nets         ``nn.Module`` classes only
processes    noise paths, prediction conversions and samplers: pure tensor functions
data         2-D mixtures and shapes, the digits
probability  Part I on tensors: Bayes, Gaussians, EM, KL
derivations  SymPy: chains of proved steps
core         input checks, runtime, small tensor helpers
"""

__version__ = "0.1.0"
