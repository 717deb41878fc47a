"""Forms in the author's order. SymPy sorts and merges what it builds (``sqrt(a*b)`` becomes
``sqrt(a)*sqrt(b)``, sums are reordered); these builders keep a form exactly as written for
display, while a proof evaluates a copy (:func:`diffusion_edu.derivations.proof.evaluate`)."""

from __future__ import annotations

import sympy as sp

__all__ = ["add", "frac", "held", "mul", "power", "sqrt"]


def add(*terms: sp.Basic) -> sp.Expr:
    """``terms[0] + terms[1] + ...`` as written (a negative term shows as ``- ...``); a term that
    is itself a sum (``1 - alpha``) joins in its printed order, so no stray brackets appear."""
    flat: list[sp.Basic] = []
    for term in map(sp.sympify, terms):
        flat += term.as_ordered_terms() if isinstance(term, sp.Add) and term.is_commutative else [term]
    return sp.Add(*flat, evaluate=False)


def mul(*factors: sp.Basic) -> sp.Expr:
    """``factors[0] factors[1] ...`` as written."""
    return sp.Mul(*map(sp.sympify, factors), evaluate=False)


def power(base: sp.Basic, exponent: sp.Basic) -> sp.Expr:
    """``base ** exponent`` as written."""
    return sp.Pow(sp.sympify(base), sp.sympify(exponent), evaluate=False)


def sqrt(x: sp.Basic) -> sp.Expr:
    """``\\sqrt{x}`` as written (not split into a product of roots)."""
    return power(x, sp.S.Half)


def frac(numerator: sp.Basic, denominator: sp.Basic) -> sp.Expr:
    """``numerator / denominator`` as written (``1 / d`` as a plain reciprocal)."""
    if sp.sympify(numerator) == 1:
        return power(denominator, -1)
    return mul(numerator, power(denominator, -1))


def held(expr: sp.Basic) -> sp.Expr:
    """``expr`` kept as one unit (in parentheses where needed), e.g. a bracket not yet multiplied out."""
    return sp.UnevaluatedExpr(sp.sympify(expr))
