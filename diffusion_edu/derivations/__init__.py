"""SymPy derivations, one module per topic. Each builder returns a :class:`Derivation`: givens,
then chains of forms the author wrote, each proved equal to the one before (a
:class:`ProofError` otherwise, also under ``python -O``), so the book shows only algebra that
was checked, in a form a reader can follow; tests/ build every registered derivation."""

from diffusion_edu.derivations.proof import Derivation, ProofError
from diffusion_edu.derivations.registry import all_derivations, builders, derivation

__all__ = ["Derivation", "ProofError", "all_derivations", "builders", "derivation"]
