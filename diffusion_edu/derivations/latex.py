"""LaTeX for derivations: one aligned block per chain, long forms broken over lines, reasons
(prose with ``$...$`` math) wrapped in a column of their own, so nothing overflows a book's
text column."""

from __future__ import annotations

import re

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE

# Budgets in visible characters (see visible_width), calibrated in headless Chromium: a 676-pixel
# text column at 1280 pixels holds about 60 of them in a display equation, less the indent.
FORM_WIDTH = 48  # a form per line, before a sum is broken between its terms
BESIDE_WIDTH = 40  # a form and its reason side by side on one row, when both are short
REASON_WIDTH = 56  # a reason on its own (smaller) line under its form

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
    latex = re.sub(r"[_^]\{([^{}]*)\}", lambda m: "#" * ((visible_width(m.group(1)) + 1) // 2), latex)
    latex = re.sub(r"[_^](\\[a-zA-Z]+|\w)", "#", latex)
    latex = latex.replace(r"\sqrt", "##")  # the radical sign takes about a character
    latex = re.sub(r"\\(,|;|quad)", "#", latex)
    latex = re.sub(r"\\(log|exp|lim|sin|cos|tan|cot|max|min|det|operatorname\{\w+\})", "###", latex)
    latex = re.sub(r"\\(to|le|ge|ne|mid|cdot|sim|approx|infty|sum|int|prod)(?![a-zA-Z])|[-+=<>]", "##", latex)
    latex = re.sub(r"\\[a-zA-Z]+", "#", latex)
    return len(re.sub(r"[{}\s]", "", latex))


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


def _reason_width(text: str) -> int:
    return max((sum(visible_width(p) if m else len(p) for p, m in line) for line in _wrap(text, 10**6)), default=0)


def block(start: sp.Basic, rows: list[tuple[str, sp.Basic, str]], name: sp.Basic | None = None) -> str:
    """``[name =] start`` then, per row, ``relation form`` with its reason, as one aligned block.

    Reasons stand in a column to the right when every form and reason is short; otherwise each
    reason goes on its own (smaller) line under its form, so a block is as wide as its widest form."""
    head = form_lines(start)
    if name is not None:
        head[0] = f"{latex(name)} = {head[0]}"
    bodies = [form_lines(form) for _, form, _ in rows]
    # the start shares the forms' column when it has a row of its own: count it too
    form_width = max((visible_width(line) + 2 for lines in [*bodies, head] for line in lines), default=0)
    reasons_width = max((_reason_width(r) for *_, r in rows), default=0)
    beside = form_width + reasons_width <= BESIDE_WIDTH  # short forms, short reasons: side by side
    reason_width = BESIDE_WIDTH if beside else REASON_WIDTH
    inline = (len(head) == 1 and rows and visible_width(head[0]) <= 12 and visible_width(head[0]) + form_width
              + (reasons_width if beside else 0) <= (BESIDE_WIDTH if beside else FORM_WIDTH))
    if not rows or inline:
        out = [head[0]]
    else:
        # the start on rows of its own, in the forms' column, so it does not push them to the right
        out = [rf"&{head[0]} \\"] + [rf"&\qquad {more} \\" for more in head[1:]]
    for i, ((relation, _, reason), lines) in enumerate(zip(rows, bodies, strict=True)):
        if beside:
            out.append(rf"&{relation} {lines[0]} && {text_to_latex(reason, reason_width)}")
        else:
            out.append(rf"&{relation} {lines[0]}")
        for more in lines[1:]:
            out[-1] += r" \\"
            out.append(rf"&\qquad {more}")
        if not beside:
            out[-1] += r" \\"
            out.append(rf"&\qquad {{\small {text_to_latex(reason, reason_width)}}}")
        if i < len(rows) - 1:
            out[-1] += r" \\"
    return "\\begin{aligned}\n" + "\n".join(out) + "\n\\end{aligned}"


def givens(rows: list[tuple[sp.Basic, sp.Basic, str]]) -> str:
    """Definitions and premises, ``lhs := rhs`` with their reasons, as one aligned block."""
    out = []
    for lhs, rhs, reason in rows:
        left, right = latex(lhs), form_lines(rhs)
        width = visible_width(left) + max(visible_width(line) for line in right) + 3
        if width + _reason_width(reason) <= BESIDE_WIDTH:
            out.append(rf"{left} &\mathrel{{:=}} {right[0]} && {text_to_latex(reason, BESIDE_WIDTH)}")
            out += [rf"&\qquad {more}" for more in right[1:]]
        else:
            out.append(rf"{left} &\mathrel{{:=}} {right[0]}")
            out += [rf"&\qquad {more}" for more in right[1:]]
            out.append(rf"&\qquad {{\small {text_to_latex(reason, REASON_WIDTH)}}}")
    return "\\begin{aligned}\n" + " \\\\\n".join(out) + "\n\\end{aligned}"
