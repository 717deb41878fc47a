"""A derivation: a list of equalities, each asserted by SymPy as it is added."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import sympy as sp


def is_zero(expr: sp.Expr) -> bool:
    """True when SymPy proves ``expr == 0`` (simplify, then expand logs/powers and simplify again)."""
    if sp.simplify(expr) == 0:
        return True
    return sp.simplify(sp.expand(sp.expand_log(sp.powsimp(expr, force=True), force=True))) == 0


def same_log(lhs: sp.Expr, rhs: sp.Expr) -> bool:
    """Proof for positive expressions: log(lhs) - log(rhs) simplifies to 0."""
    return is_zero(sp.expand_log(sp.log(lhs), force=True) - sp.expand_log(sp.log(rhs), force=True))


@dataclass
class Step:
    label: str
    lhs: sp.Expr
    rhs: sp.Expr
    note: str = ""


@dataclass
class Derivation:
    """Steps of a derivation. :meth:`equal` proves ``lhs == rhs`` or raises ``AssertionError``.

    ``results`` holds named expressions for later use (and for lambdify checks against torch).
    In a notebook the derivation renders as a list of proved equalities.
    """

    title: str
    steps: list[Step] = field(default_factory=list)
    results: dict[str, sp.Expr] = field(default_factory=dict)

    def equal(
        self,
        label: str,
        lhs: sp.Expr,
        rhs: sp.Expr,
        note: str = "",
        proof: Callable[[sp.Expr, sp.Expr], bool] | None = None,
    ) -> sp.Expr:
        """Prove ``lhs == rhs`` (by ``proof`` if given, else :func:`is_zero` of the difference)."""
        lhs, rhs = sp.sympify(lhs), sp.sympify(rhs)
        if proof is not None:
            proved = proof(lhs, rhs)
        else:  # identical expressions first: oo - oo is nan, not 0
            # doit() evaluates unevaluated integrals, limits, sums and derivatives kept for display
            proved = lhs == rhs or lhs.doit() == rhs or is_zero(lhs.doit() - rhs)
        assert proved, f"{self.title}: step '{label}' is not proved: {lhs} != {rhs}"
        self.steps.append(Step(label, lhs, rhs, note))
        return rhs

    def true(self, label: str, statement: sp.Basic, note: str = "") -> None:
        """Prove a boolean statement (an inequality under the symbols' assumptions, say)."""
        value = sp.simplify(statement)
        assert value is sp.true, f"{self.title}: step '{label}' is not proved: {statement} -> {value}"
        self.steps.append(Step(label, statement, sp.true, note))

    def keep(self, name: str, expr: sp.Expr) -> sp.Expr:
        self.results[name] = expr
        return expr

    def __getitem__(self, name: str) -> sp.Expr:
        return self.results[name]

    def _repr_markdown_(self) -> str:
        lines = [f"**{self.title}** — {len(self.steps)} steps, each proved by SymPy\n"]
        for i, step in enumerate(self.steps, 1):
            if step.rhs is sp.true:
                math = sp.latex(step.lhs)
            else:
                math = f"{sp.latex(step.lhs)} = {sp.latex(step.rhs)}"
            note = f" — {step.note}" if step.note else ""
            lines.append(f"{i}. ✓ {step.label}{note}\n\n   $$ {math} $$\n")
        return "\n".join(lines)

    def __str__(self) -> str:
        return f"{self.title}: " + "; ".join(f"{s.label} ✓" for s in self.steps)
