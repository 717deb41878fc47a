"""LaTeX for derivations: one aligned block per chain, long forms broken over lines, reasons
(prose with ``$...$`` math) wrapped in a column of their own, so nothing overflows a book's
text column."""

from __future__ import annotations

import re

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE

FORM_WIDTH = 52  # visible characters of a form per line
REASON_WIDTH = 34  # visible characters of a reason per line

_TEXT_ESCAPES = {"\\": r"\backslash ", "{": r"\{", "}": r"\}", "%": r"\%", "&": r"\&", "#": r"\#", "_": r"\_",
                 "^": r"\hat{}", "~": r"\sim "}


def visible_width(latex: str) -> int:
    """A rough count of the characters a reader sees: a fraction is as wide as its wider part,
    commands count as one symbol, braces and scripts as nothing (scripts are small)."""
    frac = re.compile(r"\\frac\{((?:[^{}]|\{[^{}]*\})*)\}\{((?:[^{}]|\{[^{}]*\})*)\}")
    while (m := frac.search(latex)) is not None:
        wider = max(m.group(1), m.group(2), key=lambda s: visible_width(s))
        latex = latex[: m.start()] + wider + latex[m.end():]
    latex = re.sub(r"\\(left|right|mathrm|operatorname|mathbb|mathcal|text|limits|displaystyle)", "", latex)
    # sub/superscripts are small: half their width
    latex = re.sub(r"[_^]\{([^{}]*)\}", lambda m: "x" * (visible_width(m.group(1)) // 2), latex)
    latex = latex.replace(r"\sqrt", "xx")  # the radical sign takes about a character
    latex = re.sub(r"\\[a-zA-Z]+", "x", latex)
    return len(re.sub(r"[{}\s]", "", latex)) + latex.count(" ") // 4


def _text(prose: str) -> str:
    return "".join(_TEXT_ESCAPES.get(c, c) for c in prose)


def _pieces(prose: str) -> list[tuple[str, bool]]:
    """Split prose into (piece, is_math) by ``$...$``."""
    parts = prose.split("$")
    return [(p, i % 2 == 1) for i, p in enumerate(parts) if p]


def _wrap(prose: str, width: int) -> list[list[tuple[str, bool]]]:
    """Words and math pieces filled into lines of at most ``width`` visible characters."""
    tokens: list[tuple[str, bool]] = []
    for piece, is_math in _pieces(prose):
        if is_math:
            tokens.append((piece, True))
        else:
            tokens += [(w, False) for w in re.split(r"(?<= )", piece) if w]
    lines, line, used = [], [], 0
    for token, is_math in tokens:
        size = visible_width(token) if is_math else len(token)
        if line and used + size > width:
            lines.append(line)
            line, used = [], 0
            if not is_math:
                token = token.lstrip()
        line.append((token, is_math))
        used += size
    if line:
        lines.append(line)
    return lines


def _line_to_latex(line: list[tuple[str, bool]]) -> str:
    out, words = [], ""
    for piece, is_math in line:
        if not is_math:
            words += piece
            continue
        if words:
            out.append(rf"\text{{{_text(words)}}}")
            words = ""
        out.append(piece)
    if words:
        out.append(rf"\text{{{_text(words)}}}")
    return "".join(out)


def text_to_latex(prose: str, width: int = REASON_WIDTH) -> str:
    """Prose with ``$...$`` math as LaTeX: ``\\text{...}`` for the words, the math as written,
    wrapped into a left-aligned column when longer than ``width``."""
    lines = [_line_to_latex(line) for line in _wrap(prose, width)]
    if len(lines) <= 1:
        return lines[0] if lines else ""
    return r"\begin{array}{l}" + r"\\ ".join(lines) + r"\end{array}"


def _terms(expr: sp.Basic) -> list[sp.Basic] | None:
    """The top-level terms of a sum in the author's order (None for other forms)."""
    if isinstance(expr, sp.Add):
        return list(expr.args)
    return None


def form_lines(expr: sp.Basic, width: int = FORM_WIDTH) -> list[str]:
    """``expr``'s LaTeX, broken between the terms of a top-level sum when it is too wide."""
    whole = latex(expr)
    terms = _terms(expr)
    if visible_width(whole) <= width or terms is None or len(terms) < 2:
        return [whole]
    lines, line = [], ""
    for term in terms:
        piece = latex(term)
        if piece.startswith("-"):
            joined = f"{line} - {piece[1:].strip()}" if line else piece
        else:
            joined = f"{line} + {piece}" if line else piece
        if line and visible_width(joined) > width:
            lines.append(line)
            line = piece if piece.startswith("-") else f"+ {piece}"
        else:
            line = joined
    lines.append(line)
    return lines


class _Printer(LatexPrinter):
    """SymPy's LaTeX, in the author's order, with ``\\cdot`` before a number that is not the first
    factor of a product (``\\alpha_t \\cdot 1``, not ``\\alpha_t 1``)."""

    def __init__(self) -> None:
        super().__init__({"order": "none"})

    def _print_Mul(self, expr: sp.Mul) -> str:
        # SymPy also prints a power with a negative exponent through _print_Mul: leave it to SymPy
        if isinstance(expr, sp.Mul) and any(isinstance(f, sp.Number) for f in expr.args[1:]):
            return r" \cdot ".join(self.parenthesize(f, PRECEDENCE["Mul"]) for f in expr.args)
        return super()._print_Mul(expr)


def latex(expr: sp.Basic) -> str:
    """``expr`` as LaTeX, exactly in the order it was written."""
    return _Printer().doprint(expr)


def block(start: sp.Basic, rows: list[tuple[str, sp.Basic, str]], name: sp.Basic | None = None) -> str:
    """``[name =] start`` then, per row, ``relation form  reason`` as one aligned block; a wide
    start gets rows of its own."""
    head = form_lines(start)
    if name is not None:
        head[0] = f"{latex(name)} = {head[0]}"
    if len(head) == 1 and visible_width(head[0]) <= 24:
        out = [head[0]]
    else:
        out = [rf"{head[0]} \\"] + [rf"&\qquad {more} \\" for more in head[1:]]
    for i, (relation, form, reason) in enumerate(rows):
        lines = form_lines(form)
        out.append(rf"&{relation} {lines[0]} && {reason}")
        for more in lines[1:]:
            out[-1] += r" \\"
            out.append(rf"&\qquad {more}")
        if i < len(rows) - 1:
            out[-1] += r" \\"
    return "\\begin{aligned}\n" + "\n".join(out) + "\n\\end{aligned}"
