"""The notation of the DDPM derivations (chapters 7-9; Ho et al. 2020), shared by their parts: the
symbols, the definitions of alpha_bar_t, beta_tilde_t and mu_tilde_t in the two free symbols
alpha_t and alpha_bar_{t-1}, Gaussian log-densities and expectations written as a reader sees them.

Index convention here is the paper's: t = 1..T, alpha_bar_0 = 1 (the package stores index t - 1).
The standard deviation of the noise DDPM's sampler adds at step t is written s_t; sigma_t is kept
for the path's noise scale sqrt(1 - alpha_bar_t).
"""

from __future__ import annotations

import sympy as sp

from diffusion_edu.derivations.forms import add, frac, mul, power, sqrt
from diffusion_edu.derivations.proof import Derivation

x0, x_t, x_prev, eps, eps_hat, v = sp.symbols(r"x_0 x_t x_{t-1} epsilon \hat{\epsilon} v", real=True)
alpha = sp.symbols("alpha_t", positive=True)  # alpha_t = 1 - beta_t, in (0, 1)
alpha_bar_prev = sp.symbols(r"\bar{\alpha}_{t-1}", positive=True)  # in (0, 1]
alpha_bar = sp.symbols(r"\bar{\alpha}_t", positive=True)  # in (0, 1)
s_t = sp.symbols("s_t", positive=True)  # the std of the noise the reverse sampler adds at step t
sigma = s_t  # the name under which chapter 8 imports it
beta = 1 - alpha
beta_t = sp.Symbol("beta_t", positive=True)  # displayed; stands for 1 - alpha_t
beta_tilde = sp.Symbol(r"\tilde{\beta}_t", positive=True)
mu_tilde = sp.Symbol(r"\tilde{\mu}_t", real=True)
HALF = sp.Rational(1, 2)

# definitions in terms of the two free symbols alpha_t, alpha_bar_{t-1} (no right side holds a key,
# so one substitution pass is exact)
_BETA_TILDE = (1 - alpha_bar_prev) * (1 - alpha) / (1 - alpha * alpha_bar_prev)
_MU_TILDE = (sp.sqrt(alpha_bar_prev) * (1 - alpha) * x0 + sp.sqrt(alpha) * (1 - alpha_bar_prev) * x_t) / (
    1 - alpha * alpha_bar_prev)
DEFS = {beta_t: 1 - alpha, alpha_bar: alpha * alpha_bar_prev}
POSTERIOR_DEFS = {**DEFS, beta_tilde: _BETA_TILDE, mu_tilde: _MU_TILDE}


def log_normal(x_: sp.Expr, mean: sp.Expr, var: sp.Expr) -> sp.Expr:
    """log N(x; mean, var) = -(x - mean)^2 / (2 var) - log(2 pi var) / 2."""
    return -((x_ - mean) ** 2) / (2 * var) - sp.log(2 * sp.pi * var) / 2


def square_term(x_: sp.Basic, mean: sp.Basic, var: sp.Basic, sign: int = -1) -> sp.Expr:
    """``-(x - mean)^2 / (2 var)`` as written (``+`` for sign = 1)."""
    term = frac(power(add(x_, -mean) if mean != 0 else x_, 2), mul(2, var))
    return term if sign > 0 else -term


def log_term(var: sp.Basic, sign: int = -1) -> sp.Expr:
    """``-1/2 log(2 pi var)`` as written (``+`` for sign = 1)."""
    return mul(sign * HALF, sp.log(mul(2, sp.pi, var)))


def gaussian_moment(k: int, mean: sp.Expr, var: sp.Expr) -> sp.Expr:
    """E[y^k] for y ~ N(mean, var): sum over even j of C(k, j) mean^(k-j) var^(j/2) (j - 1)!!."""
    return sp.Add(*(sp.binomial(k, j) * mean ** (k - j) * var ** (j // 2) * sp.factorial2(j - 1)
                    for j in range(0, k + 1, 2)))


def gaussian_expectation(expr: sp.Expr, y: sp.Symbol, mean: sp.Expr, var: sp.Expr) -> sp.Expr:
    """E[expr(y)] for y ~ N(mean, var) and expr a polynomial in y, term by term from the moments."""
    poly = sp.Poly(sp.expand(expr), y)
    return sp.Add(*(coeff * gaussian_moment(k, mean, var) for (k,), coeff in poly.terms()))


def expect_normal(expr: sp.Expr, y: sp.Symbol, mean: sp.Expr, std: sp.Expr) -> sp.Expr:
    """E[expr(y)] for y ~ N(mean, std^2) (kept for older imports)."""
    return gaussian_expectation(expr, y, mean, std**2)


class Expect(sp.Function):
    """``E_{y ~ N(mean, var)}[expr]``, displayed as written; evaluated from the Gaussian moments."""

    nargs = 4

    @classmethod
    def eval(cls, *args: sp.Basic) -> None:  # never evaluates on construction
        return None

    def doit(self, **hints: object) -> sp.Expr:
        expr, y, mean, var = (arg.doit(**hints) for arg in self.args)
        return gaussian_expectation(expr, y, mean, var)

    def _latex(self, printer: object) -> str:
        expr, y, mean, var = self.args
        p = printer._print  # type: ignore[attr-defined]
        return rf"\mathbb{{E}}_{{{p(y)}\sim\mathcal N({p(mean)},\,{p(var)})}}\left[{p(expr)}\right]"


class Bracket(sp.Function):
    """``(expr)``: a group of terms shown in parentheses (also as the first term of a sum); its value is ``expr``."""

    nargs = 1

    @classmethod
    def eval(cls, *args: sp.Basic) -> None:
        return None

    def doit(self, **hints: object) -> sp.Expr:
        return self.args[0].doit(**hints)

    def _latex(self, printer: object) -> str:
        return rf"\left({printer._print(self.args[0])}\right)"  # type: ignore[attr-defined]


def state_definitions(d: Derivation, *, posterior: bool = True) -> None:
    """Give beta_t and alpha_bar_t (and, with ``posterior``, the names beta_tilde_t and mu_tilde_t)."""
    d.given(beta_t, 1 - alpha, r"the variance of one forward step")
    d.given(alpha_bar, mul(alpha, alpha_bar_prev), r"definition of $\bar\alpha_t$, with $\bar\alpha_0 = 1$")
    if posterior:
        d.given(beta_tilde, mul(frac(1 - alpha_bar_prev, 1 - alpha_bar), beta_t), "the name of the posterior variance")
        d.given(mu_tilde, frac(add(mul(sqrt(alpha_bar_prev), beta_t, x0), mul(sqrt(alpha), 1 - alpha_bar_prev, x_t)),
                               1 - alpha_bar), "the name of the posterior mean")
