"""SymPy derivations, one module per topic. Each function returns a :class:`Derivation` whose
steps were each proved by SymPy when it was built (an ``AssertionError`` otherwise), so the
book shows only algebra that was checked, and tests/ re-run every proof."""

from diffusion_edu.derivations.proof import Derivation

__all__ = ["Derivation"]
