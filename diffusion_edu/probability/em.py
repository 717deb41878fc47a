"""Expectation-maximisation for Gaussian mixtures (Dempster, Laird and Rubin, 1977), in torch.

Log-space throughout (log-sum-exp for log p(x), softmax for the responsibilities) and batched:
``n_init`` independent initialisations run side by side as a leading batch dimension B, and the
best is kept. Covariances are ``"full"`` (K, D, D) or ``"diag"`` (K, D). The M-step is the
closed-form stationary point that chapter 3 derives in SymPy
(:func:`diffusion_edu.derivations.mixture.responsibilities_and_em`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from diffusion_edu.core.checks import check_choice, check_float_tensor, check_int, check_number, check_positive
from diffusion_edu.core.tensors import LOG_2PI

COVARIANCE_TYPES = ("full", "diag")


def log_gaussian(x: torch.Tensor, means: torch.Tensor, covariances: torch.Tensor, covariance_type: str) -> torch.Tensor:
    """log N(x_n; mu_bk, Sigma_bk) for x (N, D), means (B, K, D) and covariances (B, K, D, D) or
    (B, K, D). Returns (B, N, K)."""
    x = check_float_tensor("x", x, ndim=2)
    check_choice("covariance_type", covariance_type, COVARIANCE_TYPES)
    if means.ndim != 3 or means.shape[-1] != x.shape[1]:
        raise ValueError(f"means: expected shape (B, K, {x.shape[1]}), got {tuple(means.shape)}")
    d = x.shape[1]
    diff = x[None, None] - means[:, :, None]  # (B, K, N, D)
    if covariance_type == "diag":
        maha = (diff.square() / covariances[:, :, None]).sum(-1)  # (B, K, N)
        log_det = torch.log(covariances).sum(-1)  # (B, K)
    else:
        chol = torch.linalg.cholesky(covariances)  # (B, K, D, D)
        whitened = torch.linalg.solve_triangular(chol, diff.transpose(-1, -2), upper=False)  # (B, K, D, N)
        maha = whitened.square().sum(-2)  # (B, K, N)
        log_det = 2 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)  # (B, K)
    return (-0.5 * (maha + log_det[..., None] + d * LOG_2PI)).transpose(1, 2)  # (B, N, K)


def e_step(
    x: torch.Tensor, weights: torch.Tensor, means: torch.Tensor, covariances: torch.Tensor, covariance_type: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Responsibilities by Bayes' rule, in log space: returns log r (B, N, K) and the average
    log-likelihood (1/N) sum_n log p(x_n) (B,)."""
    log_joint = torch.log(weights)[:, None] + log_gaussian(x, means, covariances, covariance_type)  # (B, N, K)
    log_px = torch.logsumexp(log_joint, dim=-1)  # (B, N)
    return log_joint - log_px[..., None], log_px.mean(-1)


def m_step(
    x: torch.Tensor, log_resp: torch.Tensor, covariance_type: str, reg_covar: float = 1e-6
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The stationary point of the expected complete-data log-likelihood:
    w_k = N_k / N, mu_k = sum_n r_nk x_n / N_k, Sigma_k = sum_n r_nk (x_n - mu_k)(x_n - mu_k)^T / N_k
    (+ ``reg_covar`` on the diagonal, as scikit-learn does, to keep Sigma_k invertible)."""
    resp = log_resp.exp()  # (B, N, K)
    counts = resp.sum(1) + 10 * torch.finfo(x.dtype).eps  # (B, K)
    weights = counts / x.shape[0]
    means = torch.einsum("bnk,nd->bkd", resp, x) / counts[..., None]  # (B, K, D)
    diff = x[None, None] - means[:, :, None]  # (B, K, N, D)
    weighted = resp.transpose(1, 2)[..., None] * diff  # (B, K, N, D)
    if covariance_type == "diag":
        covariances = (weighted * diff).sum(2) / counts[..., None] + reg_covar  # (B, K, D)
    else:
        covariances = weighted.transpose(-1, -2) @ diff / counts[..., None, None]  # (B, K, D, D)
        covariances = covariances + reg_covar * torch.eye(x.shape[1], dtype=x.dtype)
    return weights, means, covariances


def kmeans_plus_plus(x: torch.Tensor, n_components: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """k-means++ seeding (Arthur and Vassilvitskii, 2007): each new centre is a data point drawn
    with probability proportional to its squared distance to the nearest centre so far. (K, D)."""
    x = check_float_tensor("x", x, ndim=2)
    check_int("n_components", n_components)
    if x.shape[0] < n_components:
        raise ValueError(f"x: expected at least n_components = {n_components} rows, got {x.shape[0]}")
    first = torch.randint(x.shape[0], (1,), generator=generator)
    centres = [x[first[0]]]
    nearest = (x - centres[0]).square().sum(-1)
    for _ in range(1, n_components):
        # every point already a centre (duplicates, e.g. identical points): draw uniformly instead of 0 / 0
        weights = nearest / nearest.sum() if bool(nearest.sum() > 0) else torch.ones_like(nearest)
        index = torch.multinomial(weights, 1, generator=generator)[0]
        centres.append(x[index])
        nearest = torch.minimum(nearest, (x - centres[-1]).square().sum(-1))
    return torch.stack(centres)


@dataclass
class MixtureFit:
    """A fitted mixture: ``weights`` (K,), ``means`` (K, D), ``covariances`` (K, D, D) or (K, D).

    ``log_likelihoods`` holds the average log-likelihood after each E-step (the first entry is
    the initialisation), for the kept run; ``all_log_likelihoods`` (iterations, B) for every
    run; ``history`` the parameters after each iteration when requested.
    """

    weights: torch.Tensor
    means: torch.Tensor
    covariances: torch.Tensor
    covariance_type: str
    log_likelihoods: list[float]
    all_log_likelihoods: torch.Tensor
    converged: bool
    n_iter: int
    history: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = field(default_factory=list)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x_n) (N,)."""
        x = self._check_x(x)
        log_joint = torch.log(self.weights) + log_gaussian(
            x.to(self.means.dtype), self.means[None], self.covariances[None], self.covariance_type
        )[0]
        return torch.logsumexp(log_joint, dim=-1)

    def responsibilities(self, x: torch.Tensor) -> torch.Tensor:
        """p(k | x_n) (N, K)."""
        x = self._check_x(x)
        log_resp, _ = e_step(x.to(self.means.dtype), self.weights[None], self.means[None], self.covariances[None],
                             self.covariance_type)
        return log_resp[0].exp()

    def _check_x(self, x: torch.Tensor) -> torch.Tensor:
        x = check_float_tensor("x", x, ndim=2, nonempty=False)
        if x.shape[1] != self.means.shape[1]:
            raise ValueError(f"x: expected shape (N, {self.means.shape[1]}), got {tuple(x.shape)}")
        return x

    def full_covariances(self) -> torch.Tensor:
        """(K, D, D) whatever the covariance type."""
        return torch.diag_embed(self.covariances) if self.covariance_type == "diag" else self.covariances


def initial_parameters(
    x: torch.Tensor, n_components: int, n_init: int, covariance_type: str, reg_covar: float,
    generator: torch.Generator | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """k-means++ centres, each point assigned to its nearest centre, then one M-step: (B, K, ...)."""
    centres = torch.stack([kmeans_plus_plus(x, n_components, generator) for _ in range(n_init)])  # (B, K, D)
    nearest = torch.cdist(x[None].expand(n_init, -1, -1), centres).argmin(-1)  # (B, N)
    hard = torch.nn.functional.one_hot(nearest, n_components).to(x.dtype)  # (B, N, K)
    return m_step(x, torch.log(hard + 1e-12), covariance_type, reg_covar)


def fit_gmm(
    x: torch.Tensor,
    n_components: int,
    covariance_type: str = "full",
    max_iter: int = 200,
    tol: float = 1e-6,
    reg_covar: float = 1e-6,
    n_init: int = 1,
    generator: torch.Generator | None = None,
    init: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
    keep_history: bool = False,
) -> MixtureFit:
    """Fit a K-component Gaussian mixture to ``x`` (N, D) by EM, in float64.

    Stops when every run's average log-likelihood improves by less than ``tol`` (scikit-learn's
    criterion) or after ``max_iter`` iterations. ``init`` = (weights (K,), means (K, D),
    covariances) starts from given parameters instead of k-means++ (then ``n_init`` must be 1).
    EM never decreases the log-likelihood; a decrease beyond rounding raises ``RuntimeError``.
    """
    x = check_float_tensor("x", x, ndim=2)
    check_int("n_components", n_components)
    check_choice("covariance_type", covariance_type, COVARIANCE_TYPES)
    check_int("max_iter", max_iter)
    check_positive("tol", tol)
    check_int("n_init", n_init)
    reg_covar = check_number("reg_covar", reg_covar, low=0.0)
    if x.shape[0] < n_components:
        raise ValueError(f"x: expected at least n_components = {n_components} rows, got {x.shape[0]}")
    x = x.detach().to(torch.float64)
    if init is not None:
        if n_init != 1:
            raise ValueError(f"n_init: expected 1 when init is given, got {n_init}")
        weights, means, covariances = _check_init(init, n_components, x.shape[1], covariance_type)
    else:
        weights, means, covariances = initial_parameters(x, n_components, n_init, covariance_type, reg_covar,
                                                         generator)
    try:
        return _run_em(x, weights, means, covariances, covariance_type, max_iter, tol, reg_covar, keep_history)
    except torch.linalg.LinAlgError as error:
        raise ValueError(f"x: a covariance became singular (degenerate data such as identical or collinear points?) "
                         f"with reg_covar = {reg_covar:g}; use reg_covar > 0 (e.g. 1e-6)") from error


def _check_init(init: object, k: int, d: int, covariance_type: str) -> tuple[torch.Tensor, ...]:
    if not isinstance(init, (tuple, list)) or len(init) != 3:
        raise ValueError("init: expected a tuple (weights (K,), means (K, D), covariances)")
    weights, means, covariances = (check_float_tensor(f"init[{i}]", t).detach().to(torch.float64)
                                   for i, t in enumerate(init))
    cov_shape = (k, d, d) if covariance_type == "full" else (k, d)
    if weights.shape != (k,) or means.shape != (k, d) or covariances.shape != cov_shape:
        raise ValueError(f"init: expected shapes ({k},), ({k}, {d}), {cov_shape}, got {tuple(weights.shape)}, "
                         f"{tuple(means.shape)}, {tuple(covariances.shape)}")
    return weights[None], means[None], covariances[None]


def _run_em(x: torch.Tensor, weights: torch.Tensor, means: torch.Tensor, covariances: torch.Tensor,
            covariance_type: str, max_iter: int, tol: float, reg_covar: float, keep_history: bool) -> MixtureFit:
    history = [(weights, means, covariances)] if keep_history else []
    log_resp, average = e_step(x, weights, means, covariances, covariance_type)
    trace = [average]
    converged = False
    for _ in range(max_iter):
        weights, means, covariances = m_step(x, log_resp, covariance_type, reg_covar)
        log_resp, average = e_step(x, weights, means, covariances, covariance_type)
        change = average - trace[-1]
        trace.append(average)
        if keep_history:
            history.append((weights, means, covariances))
        # EM never decreases the likelihood, up to round-off and the small ridge reg_covar adds to
        # each covariance after the M-step (which makes a step not exactly monotone)
        tolerance = max(1e-6, 100 * torch.finfo(average.dtype).eps)
        if bool((change < -tolerance * (1 + trace[-2].abs())).any()):
            raise RuntimeError(f"EM decreased the log-likelihood by {-change.min().item():.3g}: numerical trouble "
                               f"(try a larger reg_covar, got {reg_covar:g})")
        if bool((change.abs() < tol).all()):
            converged = True
            break
    all_ll = torch.stack(trace)  # (iterations + 1, B)
    best = int(all_ll[-1].argmax())
    return MixtureFit(
        weights=weights[best], means=means[best], covariances=covariances[best], covariance_type=covariance_type,
        log_likelihoods=all_ll[:, best].tolist(), all_log_likelihoods=all_ll, converged=converged,
        n_iter=len(trace) - 1, history=[(w[best], m[best], c[best]) for w, m, c in history],
    )
