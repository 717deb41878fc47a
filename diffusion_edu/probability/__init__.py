"""Part I's probability on tensors: Bayes' theorem, the Gaussian, EM for mixtures, KL divergence."""
