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
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import sympy as sp

from diffusion_edu.derivations.latex import block, givens, latex

__all__ = ["Chain", "Derivation", "ProofError", "ascii_math", "is_zero", "same_log"]

Proof = Callable[[sp.Basic, sp.Basic], bool]
RELATIONS = {"=": "=", "<=": r"\le", ">=": r"\ge", "<": "<", ">": ">", "!=": r"\ne"}


class ProofError(Exception):
    """A step SymPy could not prove: names the derivation, the step and both sides."""

    def __init__(self, derivation: str, step: str, lhs: object, rhs: object, relation: str = "=") -> None:
        self.derivation, self.step, self.lhs, self.rhs = derivation, step, lhs, rhs
        super().__init__(f"{derivation}: step '{step}' is not proved: {lhs} {relation} {rhs}")


# ---------------------------------------------------------------------------------------------
# proving
# ---------------------------------------------------------------------------------------------


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


def _relation_holds(relation: str, lhs: sp.Basic, rhs: sp.Basic) -> bool:
    if relation == "=":
        return equal(lhs, rhs)
    op = {"<=": sp.Le, ">=": sp.Ge, "<": sp.Lt, ">": sp.Gt, "!=": sp.Ne}[relation]
    return holds(op(evaluate(lhs), evaluate(rhs)))


# ---------------------------------------------------------------------------------------------
# what a reader may see
# ---------------------------------------------------------------------------------------------

# ASCII math a reader should see typeset: code-like calls, sub/superscripts, operators, Greek names
_ASCII_MATH = re.compile(
    r"(sqrt\(|exp\(|log\(|\w_\{?\w|\w\^|\*\*|\*|(?<![<>=!])=(?!=)|<=|>=|!=|\b\w{1,3}/\w{1,3}\b|\s/\s|"
    r"\b(?:abar|alphabar|alpha|beta|betas|gamma|delta|epsilon|eps|sigma|sigmas|mu|theta|lambda|"
    r"kappa|tau|phi|psi|omega|rho|nabla)\b)"
)


def ascii_math(text: str) -> list[str]:
    """Fragments of ``text`` outside ``$...$`` that look like ASCII math (``sqrt(abar)``, ``x_t``,
    ``a / b``, ``beta``): they belong inside ``$...$`` as LaTeX."""
    prose = re.sub(r"\$[^$]*\$", " ", text)
    prose = re.sub(r"`[^`]*`", " ", prose)  # code names in backticks are code, not math
    return [m.group(0) for m in _ASCII_MATH.finditer(prose)]


def _check_prose(where: str, text: str) -> str:
    if not isinstance(text, str):
        raise TypeError(f"{where} must be a str of prose with $...$ math, got {type(text).__name__}")
    if text.count("$") % 2:
        raise ValueError(f"{where} has an unmatched '$': {text!r}")
    bad = ascii_math(text)
    if bad:
        raise ValueError(f"{where} holds ASCII math outside $...$ ({', '.join(map(repr, bad))}): {text!r}")
    return text


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
        reason = _check_prose(f"{title}: reason of step {label}", reason)
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
        proved = proof(lhs, rhs) if proof is not None else _relation_holds(relation, lhs, rhs)
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
        _check_prose("a derivation's title", self.title)

    # -- building ------------------------------------------------------------------------------
    def given(self, lhs: sp.Basic, rhs: sp.Basic, reason: str = "definition") -> sp.Basic:
        """A definition or premise, shown ``lhs := rhs``; returns ``rhs``."""
        _check_prose(f"{self.title}: reason of a given", reason)
        self.items.append(Given(sp.sympify(lhs), sp.sympify(rhs), reason))
        return rhs

    def chain(self, start: sp.Basic, heading: str = "", *, name: sp.Basic | None = None) -> Chain:
        """Start a chain at ``start`` (displayed as written); ``name`` shows ``name = start`` first
        (a definition, not proved)."""
        _check_prose(f"{self.title}: a chain's heading", heading)
        chain = Chain(self, sp.sympify(start), heading, name)
        self.items.append(chain)
        return chain

    def claim(self, statement: sp.Basic, reason: str, *, proof: Callable[[sp.Basic], bool] | None = None) -> None:
        """Prove a statement (``sp.Ge(x, 0, evaluate=False)``, ``sp.Ne(a, b, evaluate=False)``)."""
        _check_prose(f"{self.title}: reason of a claim", reason)
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
