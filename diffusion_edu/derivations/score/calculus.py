"""The calculus of chapter 11's derivations, shared by their parts: the symbols (1-D throughout:
in D dimensions the derivative s' becomes the divergence tr grad_x s), Gaussian densities and
expectations, derivatives displayed with their brackets, and the proofs for integrals of unknown
functions (linearity, integration by parts with premised boundary terms; Hyvarinen 2005)."""

from __future__ import annotations

import sympy as sp

from diffusion_edu.derivations.proof import evaluate, is_zero

x, x_0, z, mu, a, b, c = sp.symbols("x x_0 z mu a b c", real=True)
sigma, s_0, epsilon, Z = sp.symbols("sigma s_0 epsilon Z", positive=True)
alpha_bar = sp.Symbol(r"\bar{\alpha}_t", positive=True)
f = sp.Function("f")
p = sp.Function("p")
s = sp.Function(r"s_{\theta}")
theta = sp.Symbol("theta")
x_tilde = sp.Symbol(r"\tilde{x}", real=True)
oo = sp.oo


def gaussian_pdf(x_: sp.Expr, mean: sp.Expr, std: sp.Expr) -> sp.Expr:
    return sp.exp(-((x_ - mean) ** 2) / (2 * std**2)) / (std * sp.sqrt(2 * sp.pi))


def gaussian_expectation(expr: sp.Expr, var: sp.Symbol, mean: sp.Expr, std: sp.Expr) -> sp.Expr:
    """E[expr] for var ~ N(mean, std^2), expr a polynomial in var: moments by the moment generating function."""
    poly = sp.Poly(sp.expand(expr), var)
    t = sp.Symbol("t_mgf")
    mgf = sp.exp(mean * t + std**2 * t**2 / 2)
    total = 0
    for (k,), coeff in poly.terms():
        total += coeff * sp.diff(mgf, t, k).subs(t, 0)
    return sp.expand(total)


class Expect(sp.Function):
    """``Expect(g, v, m, s)``: E[g] over v ~ N(m, s^2), displayed as an expectation and evaluated
    (for a proof) by exact Gaussian moments; g must be a polynomial in v."""

    nargs = 4

    def doit(self, deep: bool = True, **hints: object) -> sp.Expr:
        g, var, mean, std = self.args
        if deep:
            g = g.doit(deep=deep, **hints)
        return gaussian_expectation(g, var, mean, std)

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"\mathbb{{E}}_{{{printer._print(self.args[1])}}}\left[{printer._print(self.args[0])}\right]"


class Dx(sp.Function):
    """``Dx(g, v)``: the derivative of g in v, displayed as $\\partial_v(g)$ with its brackets (SymPy
    prints the derivative of a product without them) and evaluated by differentiating."""

    nargs = 2

    def doit(self, deep: bool = True, **hints: object) -> sp.Expr:
        g, var = self.args
        return sp.diff(g.doit(deep=deep, **hints) if deep else g, var)

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"\partial_{{{printer._print(self.args[1])}}}\left({printer._print(self.args[0])}\right)"


# ---------------------------------------------------------------------------------------------
# proofs for integrals of unknown functions
# ---------------------------------------------------------------------------------------------


def _split_integrals(expr: sp.Expr, var: sp.Symbol) -> tuple[sp.Expr, sp.Expr] | None:
    """``expr`` = integral over the real line of D + R: (D, R), or None if some term is not of
    that kind (an integral over other limits, or a coefficient that depends on ``var``)."""
    integrand, rest = sp.S.Zero, sp.S.Zero
    for term in sp.Add.make_args(sp.expand(expr)):
        integrals = [fac for fac in sp.Mul.make_args(term) if isinstance(fac, sp.Integral)]
        if not integrals:
            rest += term
            continue
        if len(integrals) > 1 or integrals[0].limits != ((var, -oo, oo),):
            return None
        coeff = term / integrals[0]
        if var in coeff.free_symbols:
            return None
        integrand += coeff * integrals[0].function
    return integrand, rest


def _limit_key(limit: sp.Limit) -> sp.Limit:
    """A limit with its expression evaluated (so that forms written in another order match)."""
    return sp.Limit(evaluate(limit.args[0]), *limit.args[1:])


def integrals_agree(var: sp.Symbol = x, premises: dict | None = None,
                    vanishing: tuple[sp.Expr, ...] = ()) -> callable:
    """A proof for forms made of integrals over the real line of unknown functions: linearity of
    the integral (the integrands, collected, cancel), after substituting ``premises`` (limits
    known to vanish). A leftover integrand that is a constant times the derivative of one of
    ``vanishing`` (functions whose limits at both ends are premised to be 0) integrates to 0."""
    premises = premises or {}
    limits = {_limit_key(k): v for k, v in premises.items() if isinstance(k, sp.Limit)}
    others = {k: v for k, v in premises.items() if not isinstance(k, sp.Limit)}

    def known(limit: sp.Limit) -> sp.Basic:
        return limits.get(_limit_key(limit), limit)

    def proof(lhs: sp.Basic, rhs: sp.Basic) -> bool:
        difference = sp.sympify(lhs - rhs).xreplace(others).replace(lambda e: isinstance(e, sp.Limit), known)
        split = _split_integrals(difference, var)
        if split is None:
            return False
        integrand, rest = (evaluate(part) for part in split)
        if not is_zero(rest):
            return False
        if is_zero(integrand):
            return True
        for F in vanishing:
            ratio = sp.simplify(integrand / sp.diff(F, var))
            if var not in ratio.free_symbols:
                return True
        return False

    return proof


def by_parts(u: sp.Expr, w: sp.Expr, var: sp.Symbol = x) -> callable:
    """A proof of integration by parts, int u w' = [u w] - int u' w, as the fundamental theorem of
    calculus: the integrands' difference is exactly (u w)', and the displayed boundary term is
    exactly lim (u w) at +oo minus at -oo (limits kept as symbols: whether they vanish is a premise)."""
    product = u * w
    boundary = sp.Limit(product, var, oo) - sp.Limit(product, var, -oo)

    def proof(lhs: sp.Basic, rhs: sp.Basic) -> bool:
        split = _split_integrals(sp.sympify(lhs - rhs), var)
        if split is None:
            return False
        integrand, rest = split
        return is_zero(evaluate(integrand) - sp.diff(product, var)) and sp.expand(rest + boundary) == 0

    return proof

