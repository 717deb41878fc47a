"""Every registered derivation builds, every step is proved, and nothing a reader sees is empty:
no step shows the same form on both sides, no bare "True", no ASCII math in prose. A false step
raises ProofError, also under ``python -O``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys

import pytest
import sympy as sp

from diffusion_edu.derivations import Derivation, ProofError, builders
from diffusion_edu.derivations.latex import latex
from diffusion_edu.derivations.proof import Chain, Claim, Given, ascii_math

BUILDERS = builders()


def test_registry_is_not_empty():
    assert len(BUILDERS) >= 2


def test_every_builder_of_every_module_is_registered():
    """A public function of a derivation module that returns a Derivation is in the registry (so this
    file builds it), whatever module it lives in."""
    import diffusion_edu.derivations as package

    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            returns = inspect.signature(function).return_annotation
            if function.__module__ == module.__name__ and not name.startswith("_") and name != "all_derivations" \
                    and returns in (Derivation, "Derivation"):
                assert f"{module.__name__}.{name}" in BUILDERS, f"{module.__name__}.{name} is not registered"


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_derivation_reads_as_a_proved_chain(name):
    d = BUILDERS[name]()
    assert isinstance(d, Derivation)
    assert d.n_proved >= 1, f"{name} proves nothing"
    assert not ascii_math(d.title), f"{name}: ASCII math in the title {d.title!r}"
    for item in d.items:
        assert isinstance(item, Given | Chain | Claim), f"{name}: a step of the old, unreadable kind: {item}"
        if isinstance(item, Chain):
            assert item.steps, f"{name}: a chain with no step: {latex(item.start)}"
            assert not ascii_math(item.heading), f"{name}: ASCII math in {item.heading!r}"
            previous = latex(item.start)
            for step in item.steps:
                shown = latex(step.rhs)
                assert shown != previous, f"{name}: a step displays {shown} twice"
                assert step.rhs not in (sp.true, sp.false), f"{name}: a bare {step.rhs}"
                assert not ascii_math(step.reason), f"{name}: ASCII math in {step.reason!r}"
                previous = shown
        elif isinstance(item, Claim):
            assert item.statement not in (sp.true, sp.false), f"{name}: a bare {item.statement}"
            assert not ascii_math(item.reason), f"{name}: ASCII math in {item.reason!r}"
        else:
            assert latex(item.lhs) != latex(item.rhs), f"{name}: a given {latex(item.lhs)} := itself"
    markdown = d._repr_markdown_()
    assert r"\begin{aligned}" in markdown and "True" not in markdown


def test_a_false_step_raises_naming_the_derivation_the_step_and_both_sides():
    x = sp.Symbol("x", positive=True)
    d = Derivation("a false step")
    chain = d.chain((x + 1) ** 2, "a square")
    with pytest.raises(ProofError) as raised:
        chain.to(x**2 + 1, "forget the cross term")
    message = str(raised.value)
    assert "a false step" in message and "forget the cross term" in message and "x**2 + 1" in message
    chain.to(x**2 + 2 * x + 1, "multiply out")  # the chain goes on from the last proved form
    with pytest.raises(ProofError):
        d.claim(sp.Lt(x, 0, evaluate=False), "a positive number is negative")


def test_what_would_display_nothing_is_refused():
    x = sp.Symbol("x", positive=True)
    d = Derivation("refusals")
    with pytest.raises(ValueError, match="twice"):
        d.chain(x + 1, "start").to(1 + x, "reorder")
    with pytest.raises(ValueError, match="bare"):
        d.chain(x, "start").to(sp.true, "true")
    with pytest.raises(ValueError, match="ASCII math"):
        d.chain(x, "sqrt(abar) x_t")
    with pytest.raises(ValueError, match="bare"):
        d.claim(sp.Gt(x + 1, x), "it is true")  # evaluated to True before display


@pytest.mark.parametrize("text, bad", [
    ("coefficient of x_{t-1}: sqrt(abar_{t-1}) x_0", True),
    ("the variance 1 - alpha_t", True),
    ("a / b", True),
    (r"the coefficient of $x_{t-1}$: $\sqrt{\bar\alpha_{t-1}}$", False),
    ("complete the square; Bayes' rule", False),
])
def test_ascii_math_is_found_outside_dollars(text, bad):
    assert bool(ascii_math(text)) is bad


def test_proofs_are_not_skipped_under_python_O():
    code = (
        "import sympy as sp\n"
        "from diffusion_edu.derivations import Derivation, ProofError\n"
        "x = sp.Symbol('x')\n"
        "try:\n"
        "    Derivation('t').chain(x + x, 'a sum').to(3 * x, 'wrong')\n"
        "except ProofError:\n"
        "    raise SystemExit(0)\n"
        "raise SystemExit(1)\n"
    )
    result = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
