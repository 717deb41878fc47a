"""A derivation a person can follow: chains of forms, each proved equal to the one before.

A :class:`Derivation` holds

- **givens**: definitions and premises, shown as such (``:=``), never as "proved";
- **chains**: a starting form, then forms written by the author, each with a reason in words
  and LaTeX and each proved equal to the previous form (by SymPy, on evaluated copies: the
  displayed forms stay as written, with unevaluated sums, integrals and products);
- **claims**: statements (inequalities, "not equal") proved under the symbols' assumptions.

Proofs fail loudly with :class:`ProofError` (never ``assert``, which ``python -O`` strips), and a
step that would display nothing (the same LaTeX on both sides, a bare ``True``) or a reason with
ASCII math outside ``$...$`` is refused when it is written, so no derivation in the book can show
one. In a notebook a derivation renders as one aligned LaTeX block per chain.

The proofs a step may use live in :mod:`diffusion_edu.derivations.provers`, the checks of a
reader's prose in :mod:`diffusion_edu.derivations.prose`; both are re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import sympy as sp

from diffusion_edu.derivations.latex import block, givens, latex
from diffusion_edu.derivations.prose import ascii_math, check_prose
from diffusion_edu.derivations.provers import equal, evaluate, holds, is_zero, relation_holds, same_log

__all__ = ["Chain", "Claim", "Derivation", "Given", "ProofError", "Step", "ascii_math", "equal", "evaluate", "holds",
           "is_zero", "same_log"]

Proof = Callable[[sp.Basic, sp.Basic], bool]
RELATIONS = {"=": "=", "<=": r"\le", ">=": r"\ge", "<": "<", ">": ">", "!=": r"\ne"}


class ProofError(Exception):
    """A step SymPy could not prove: names the derivation, the step and both sides."""

    def __init__(self, derivation: str, step: str, lhs: object, rhs: object, relation: str = "=") -> None:
        self.derivation, self.step, self.lhs, self.rhs = derivation, step, lhs, rhs
        super().__init__(f"{derivation}: step '{step}' is not proved: {lhs} {relation} {rhs}")

def _latex(expr: sp.Basic) -> str:
    return latex(expr)


# ---------------------------------------------------------------------------------------------
# the objects
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Given:
    """A definition or premise: shown as ``lhs := rhs``, not proved."""

    lhs: sp.Basic
    rhs: sp.Basic
    reason: str


@dataclass(frozen=True)
class Step:
    """One proved link of a chain: ``previous relation form``, with its reason."""

    lhs: sp.Basic
    rhs: sp.Basic
    reason: str
    relation: str = "="


@dataclass(frozen=True)
class Claim:
    """A statement proved under the symbols' assumptions (an inequality, say)."""

    statement: sp.Basic
    reason: str


@dataclass
class Chain:
    """start relation form_1 relation form_2 ..., each link proved. Build with :meth:`to`."""

    derivation: Derivation
    start: sp.Basic
    heading: str = ""
    name: sp.Basic | None = None
    steps: list[Step] = field(default_factory=list)

    @property
    def current(self) -> sp.Basic:
        return self.steps[-1].rhs if self.steps else self.start

    @property
    def result(self) -> sp.Basic:
        """The chain's last form, evaluated (for lambdify checks and later derivations)."""
        return evaluate(self.current)

    def to(
        self,
        form: sp.Basic,
        reason: str,
        *,
        relation: str = "=",
        using: Mapping[sp.Basic, sp.Basic] | None = None,
        proof: Proof | None = None,
    ) -> Chain:
        """Append ``form``, proved ``current relation form``; ``using`` substitutes definitions
        (``{alpha_bar: alpha * alpha_bar_prev}``) into both sides first; ``proof`` replaces the
        default proof (simplify the difference) for forms SymPy needs help with."""
        title = self.derivation.title
        label = f"{len(self.steps) + 1} of chain {self.heading or _latex(self.start)!r}"
        reason = check_prose(f"{title}: reason of step {label}", reason)
        if relation not in RELATIONS:
            raise ValueError(f"relation must be one of {sorted(RELATIONS)}, got {relation!r}")
        form = sp.sympify(form)
        if form in (sp.true, sp.false):
            raise ValueError(f"{title}: step {label} displays a bare {form}; write the statement instead")
        if _latex(form) == _latex(self.current):
            raise ValueError(f"{title}: step {label} displays the same form twice: {_latex(form)}")
        lhs, rhs = self.current, form
        if using:
            lhs, rhs = evaluate(lhs).subs(using), evaluate(rhs).subs(using)
        proved = proof(lhs, rhs) if proof is not None else relation_holds(relation, lhs, rhs)
        if proved is not True:
            raise ProofError(title, f"{reason} (step {label})", self.current, form, relation)
        self.steps.append(Step(self.current, form, reason, relation))
        return self

    def latex(self) -> str:
        rows = [(RELATIONS[s.relation], s.rhs, s.reason) for s in self.steps]
        return block(self.start, rows, self.name)


@dataclass
class Derivation:
    """Givens, chains and claims, each proved as it is added; ``results`` holds named expressions
    for later use (and for lambdify checks against the package's torch code)."""

    title: str
    items: list[Given | Chain | Claim] = field(default_factory=list)
    results: dict[str, sp.Basic] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_prose("a derivation's title", self.title)

    # -- building ------------------------------------------------------------------------------
    def given(self, lhs: sp.Basic, rhs: sp.Basic, reason: str = "definition") -> sp.Basic:
        """A definition or premise, shown ``lhs := rhs``; returns ``rhs``."""
        check_prose(f"{self.title}: reason of a given", reason)
        self.items.append(Given(sp.sympify(lhs), sp.sympify(rhs), reason))
        return rhs

    def chain(self, start: sp.Basic, heading: str = "", *, name: sp.Basic | None = None) -> Chain:
        """Start a chain at ``start`` (displayed as written); ``name`` shows ``name = start`` first
        (a definition, not proved)."""
        check_prose(f"{self.title}: a chain's heading", heading)
        chain = Chain(self, sp.sympify(start), heading, name)
        self.items.append(chain)
        return chain

    def claim(self, statement: sp.Basic, reason: str, *, proof: Callable[[sp.Basic], bool] | None = None) -> None:
        """Prove a statement (``sp.Ge(x, 0, evaluate=False)``, ``sp.Ne(a, b, evaluate=False)``)."""
        check_prose(f"{self.title}: reason of a claim", reason)
        if statement in (sp.true, sp.false):
            raise ValueError(f"{self.title}: the claim '{reason}' is a bare {statement}; "
                             "build it with evaluate=False so the reader sees the statement")
        proved = proof(statement) if proof is not None else holds(statement)
        if proved is not True:
            raise ProofError(self.title, reason, statement, True, "is")
        self.items.append(Claim(statement, reason))

    def keep(self, name: str, expr: sp.Basic) -> sp.Basic:
        self.results[name] = expr
        return expr

    def __getitem__(self, name: str) -> sp.Basic:
        return self.results[name]

    # -- reading -------------------------------------------------------------------------------
    @property
    def steps(self) -> list[Step]:
        """Every proved link, in order (givens excluded: they are not proved)."""
        return [s for item in self.items if isinstance(item, Chain) for s in item.steps]

    @property
    def n_proved(self) -> int:
        return len(self.steps) + sum(isinstance(item, Claim) for item in self.items)

    def _repr_markdown_(self) -> str:
        out = [f"**{self.title}** · {self.n_proved} steps, each proved by SymPy\n"]
        givens_ = [i for i in self.items if isinstance(i, Given)]
        if givens_:
            rows = givens([(g.lhs, g.rhs, g.reason) for g in givens_])
            out.append(f"Given:\n\n$$\n{rows}\n$$\n")
        for item in self.items:
            if isinstance(item, Chain):
                if item.heading:
                    out.append(f"{item.heading}\n")
                out.append(f"$$\n{item.latex()}\n$$\n")
            elif isinstance(item, Claim):
                out.append(f"{item.reason}:\n\n$$\n{_latex(item.statement)}\n$$\n")
        return "\n".join(out)

    def __str__(self) -> str:
        return f"{self.title}: {self.n_proved} proved steps"
