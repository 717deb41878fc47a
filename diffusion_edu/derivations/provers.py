"""The proofs a step of a derivation may use: each takes the two sides (or a statement) and returns
True only when SymPy proves it. They work on evaluated copies (:func:`evaluate`), so the forms a
reader sees stay as written, with unevaluated sums, integrals and products."""

from __future__ import annotations

import sympy as sp


def evaluate(expr: sp.Basic) -> sp.Basic:
    """The value of a displayed form: unevaluated sums, integrals, limits, derivatives and
    ``UnevaluatedExpr`` wrappers evaluated (a copy; the displayed form is untouched)."""
    return sp.sympify(expr).doit()


def is_zero(expr: sp.Basic) -> bool:
    """True when SymPy proves ``expr == 0`` (simplify, then expand logs/powers and simplify again)."""
    if isinstance(expr, sp.MatrixBase):
        return all(is_zero(entry) for entry in expr)
    if sp.simplify(expr) == 0:
        return True
    return sp.simplify(sp.expand(sp.expand_log(sp.powsimp(expr, force=True), force=True))) == 0


def equal(lhs: sp.Basic, rhs: sp.Basic) -> bool:
    """The default proof: the evaluated forms are identical, or their difference simplifies to 0."""
    lhs, rhs = evaluate(lhs), evaluate(rhs)
    if lhs == rhs:
        return True  # also covers oo == oo, where oo - oo is nan
    return is_zero(lhs - rhs)


def same_log(lhs: sp.Basic, rhs: sp.Basic) -> bool:
    """Proof for positive expressions: log(lhs) - log(rhs) simplifies to 0."""
    lhs, rhs = evaluate(lhs), evaluate(rhs)
    return is_zero(sp.expand_log(sp.log(lhs), force=True) - sp.expand_log(sp.log(rhs), force=True))


def holds(statement: sp.Basic) -> bool:
    """A relation or boolean, evaluated and simplified under the symbols' assumptions, is true."""
    value = evaluate(statement)
    if value is sp.true:
        return True
    if isinstance(value, sp.core.relational.Relational):
        value = sp.simplify(value.func(sp.simplify(value.lhs - value.rhs), 0))
    return value is sp.true



def relation_holds(relation: str, lhs: sp.Basic, rhs: sp.Basic) -> bool:
    """``lhs relation rhs`` (one of ``=``, ``<=``, ``>=``, ``<``, ``>``, ``!=``) is proved."""
    if relation == "=":
        return equal(lhs, rhs)
    op = {"<=": sp.Le, ">=": sp.Ge, "<": sp.Lt, ">": sp.Gt, "!=": sp.Ne}[relation]
    return holds(op(evaluate(lhs), evaluate(rhs)))
