"""Chapter 13: guidance (Dhariwal & Nichol 2021; Ho & Salimans 2022), proved by SymPy.

- Bayes on scores: grad log p(x | y) = grad log p(x) + grad log p(y | x); p(y) has no x and vanishes;
  checked in closed form on a two-class 1-D mixture;
- a guidance scale s is a sharpened classifier: grad log [p(x) p(y | x)^s] = grad log p(x) + s grad log p(y | x);
- classifier guidance shifts the reverse *mean* by s Sigma g (completing the square, with log p(y | x)
  linearised around the mean); the forward process and the variance are unchanged;
- the same in eps form: eps_hat = eps - s sqrt(1 - alpha_bar) g, since eps = -sqrt(1 - alpha_bar) score;
- classifier-free guidance eps_uncond + w (eps_cond - eps_uncond) is classifier guidance of scale w with
  the implicit classifier p(y | x) proportional to p(x | y) / p(x); it targets p(x | y)^w p(x)^(1 - w);
  Ho & Salimans' (1 + w') eps_cond - w' eps_uncond is the book's w = 1 + w'.
"""

from __future__ import annotations

import sympy as sp

from diffusion_edu.derivations.proof import Derivation, is_zero

x, y, mu, g, m_0, m_1 = sp.symbols("x y mu g m_0 m_1", real=True)
s, w, w_ho, Sigma, v, alpha_bar = sp.symbols("s w w' Sigma v alpha_bar", positive=True)
pi_1 = sp.symbols("pi_1", positive=True)  # the prior probability of class 1, in (0, 1)
p = sp.Function("p")
p_y_given_x = sp.Function("p_y")  # p(y | x) as a function of x
p_x_given_y = sp.Function("p_x|y")
eps_c, eps_u = sp.symbols("epsilon_c epsilon_u", real=True)


def _expand_logs(lhs: sp.Expr, rhs: sp.Expr) -> bool:
    """Proof for expressions in logs of positive densities: evaluate the derivatives, expand the logs."""
    return is_zero(sp.expand(sp.expand_log(lhs.doit(), force=True) - sp.expand_log(rhs.doit(), force=True)))


def normal_pdf(x_: sp.Expr, mean: sp.Expr, var: sp.Expr) -> sp.Expr:
    return sp.exp(-((x_ - mean) ** 2) / (2 * var)) / sp.sqrt(2 * sp.pi * var)


def bayes_on_scores() -> Derivation:
    d = Derivation("Bayes' rule on scores: grad log p(x | y) = grad log p(x) + grad log p(y | x)")
    p_y = sp.Symbol("p(y)", positive=True)  # a number: the class's prior, no x in it
    posterior = p_y_given_x(x) * p(x) / p_y  # Bayes: p(x | y) = p(y | x) p(x) / p(y)
    lhs = sp.Derivative(sp.log(posterior), x)
    d.equal("differentiate log of Bayes' rule in x", lhs,
            sp.Derivative(sp.log(p(x)), x) + sp.Derivative(sp.log(p_y_given_x(x)), x),
            note="log p(y) does not depend on x: the intractable normaliser drops out of the score")
    # closed form: two classes, p(x | y=k) = N(x; m_k, v), p(y=1) = pi_1
    n_0, n_1 = normal_pdf(x, m_0, v), normal_pdf(x, m_1, v)
    marginal = (1 - pi_1) * n_0 + pi_1 * n_1
    classifier = pi_1 * n_1 / marginal  # p(y=1 | x)
    d.equal("the class-1 score of a two-class mixture", sp.diff(sp.log(n_1), x), -(x - m_1) / v,
            note="the conditional score is that of one Gaussian")
    d.equal("= mixture score + classifier score", sp.diff(sp.log(marginal), x) + sp.diff(sp.log(classifier), x),
            -(x - m_1) / v, note="checked in closed form: the oracle of the chapter's 2-D experiment")
    d.equal("the classifier is a logistic function of x", classifier,
            1 / (1 + (1 - pi_1) / pi_1 * sp.exp(((x - m_1) ** 2 - (x - m_0) ** 2) / (2 * v))),
            note="p(y | x) = sigmoid(linear in x) for equal variances")
    d.keep("classifier", classifier)
    d.keep("marginal", marginal)
    return d


def sharpened_classifier() -> Derivation:
    d = Derivation("a guidance scale s samples p(x) p(y | x)^s, a sharpened classifier")
    z_s = sp.Symbol("Z_s", positive=True)  # the normaliser of p(x) p(y | x)^s: no x in it
    target = p(x) * p_y_given_x(x) ** s / z_s
    d.equal("score of p(x) p(y | x)^s / Z_s", sp.Derivative(sp.log(target), x),
            sp.Derivative(sp.log(p(x)), x) + s * sp.Derivative(sp.log(p_y_given_x(x)), x),
            note="s = 1 is p(x | y); s > 1 raises the classifier's confidence; Z_s never needs computing")
    d.equal("s = 0 is the unconditional score", (sp.log(p(x)) + s * sp.log(p_y_given_x(x))).subs(s, 0),
            sp.log(p(x)))
    return d


def classifier_guided_mean() -> Derivation:
    """log N(x; mu, Sigma) + s g (x - mu) = log N(x; mu + s Sigma g, Sigma) + C, C free of x."""
    d = Derivation("classifier guidance shifts the reverse mean by s Sigma g (DN21, section 4.1)")
    lhs = sp.log(normal_pdf(x, mu, Sigma)) + s * g * (x - mu)  # log p(y | x) ~ log p(y | mu) + g (x - mu)
    rhs = sp.log(normal_pdf(x, mu + s * Sigma * g, Sigma))
    d.equal("the two log-densities differ by a constant: d/dx of the difference", sp.diff(lhs - rhs, x), 0,
            note="so the guided step is N(mu + s Sigma g, Sigma): only the mean moves, the variance is kept")
    d.equal("the constant", sp.expand(lhs - rhs), s**2 * Sigma * g**2 / 2,
            note="independent of x: it only renormalises")
    d.equal("second derivative (curvature) unchanged", sp.diff(lhs, x, 2), sp.diff(rhs, x, 2),
            note="-1/Sigma both: the forward process and the reverse variance are untouched")
    return d


def guided_eps() -> Derivation:
    d = Derivation("the same shift in eps form (DN21, Algorithm 2)")
    eps = sp.Symbol("epsilon", real=True)
    score = -eps / sp.sqrt(1 - alpha_bar)  # eps = -sqrt(1 - alpha_bar) grad log p_t(x_t)
    guided_score = score + s * g
    d.equal("eps of the guided score", -sp.sqrt(1 - alpha_bar) * guided_score, eps - s * sp.sqrt(1 - alpha_bar) * g,
            note="eps_hat = eps - s sqrt(1 - alpha_bar) grad log p(y | x_t): usable in DDIM")
    return d


def classifier_free() -> Derivation:
    d = Derivation("classifier-free guidance and its implicit classifier (Ho & Salimans 2022)")
    k = sp.sqrt(1 - alpha_bar)
    score_c, score_u = -eps_c / k, -eps_u / k  # eps = -sqrt(1 - alpha_bar) score, for both models
    eps_w = eps_u + w * (eps_c - eps_u)  # the book's convention
    d.equal("the eps combination is the same combination of scores", -eps_w / k, score_u + w * (score_c - score_u),
            note="eps and score differ by the common factor -sqrt(1 - alpha_bar)")
    implicit_grad = sp.Derivative(sp.log(p_x_given_y(x) / p(x)), x)  # grad log p_i(y | x), p_i ~ p(x|y) / p(x)
    d.equal("implicit classifier: p_i(y | x) = p(x | y) p(y) / p(x), so grad log p_i(y | x)", implicit_grad,
            sp.Derivative(sp.log(p_x_given_y(x)), x) - sp.Derivative(sp.log(p(x)), x),
            note="the conditional minus the unconditional score: what eps_cond - eps_uncond estimates")
    d.equal("CFG = unconditional score + w times the implicit classifier's gradient",
            sp.Derivative(sp.log(p(x) * (p_x_given_y(x) / p(x)) ** w), x),
            sp.Derivative(sp.log(p(x)), x) + w * implicit_grad,
            note="classifier guidance with scale w, no classifier trained", proof=_expand_logs)
    d.equal("the target density p(x | y)^w p(x)^(1 - w)", sp.expand_log(sp.log(p(x) * (p_x_given_y(x) / p(x)) ** w),
                                                                       force=True),
            sp.expand_log(sp.log(p_x_given_y(x) ** w * p(x) ** (1 - w)), force=True),
            note="w = 1: p(x | y); w > 1: pushed away from p(x)")
    d.equal("Ho & Salimans' (1 + w') eps_c - w' eps_u is the book's w = 1 + w'",
            (1 + w_ho) * eps_c - w_ho * eps_u, eps_w.subs(w, 1 + w_ho))
    d.keep("eps_w", eps_w)
    return d


def all_derivations() -> list[Derivation]:
    return [bayes_on_scores(), sharpened_classifier(), classifier_guided_mean(), guided_eps(), classifier_free()]
