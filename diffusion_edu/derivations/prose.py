"""What a reader may see in a derivation's prose (titles, headings, reasons): math typeset inside
``$...$``, never ASCII math such as ``sqrt(abar) x_t`` or ``a / b``, which is refused when it is
written."""

from __future__ import annotations

import re

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


def check_prose(where: str, text: str) -> str:
    """``text`` itself, checked: a str, balanced ``$``, no ASCII math outside ``$...$`` (``where`` names it)."""
    if not isinstance(text, str):
        raise TypeError(f"{where} must be a str of prose with $...$ math, got {type(text).__name__}")
    if text.count("$") % 2:
        raise ValueError(f"{where} has an unmatched '$': {text!r}")
    bad = ascii_math(text)
    if bad:
        raise ValueError(f"{where} holds ASCII math outside $...$ ({', '.join(map(repr, bad))}): {text!r}")
    return text

