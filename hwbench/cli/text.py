"""Cell text and tables that several commands print."""

from __future__ import annotations


def print_table(headers: list[str], rows: list[tuple], width: int | None = None) -> None:
    """A rich table; `width` fixes the layout width (default: the terminal's, or $COLUMNS, or 80)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(*headers, show_lines=False)
    for row in rows:
        table.add_row(*(str(c) for c in row))
    Console(width=width).print(table)


def pct(value: object) -> str:
    """A fraction as a percentage with one decimal; '–' when missing."""
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "–"
    return "–" if v != v else f"{100 * v:.1f}%"


def num(value: object, digits: int = 3) -> str:
    """A number to `digits` significant digits (0: a whole number); '–' when missing."""
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "–"
    if v != v:
        return "–"
    return f"{v:.0f}" if digits == 0 else f"{v:.{digits}g}"


def num_range(low: object, high: object, scale: float = 1.0, unit: str = "") -> str:
    """'a–b' (or 'a' when equal) of two numbers scaled; '–' when unknown."""
    try:
        lo, hi = float(low) / scale, float(high) / scale  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "–"
    if lo != lo or hi != hi:
        return "–"
    fmt = "{:.0f}" if scale == 1.0 else "{:.3g}"  # whole token counts; scaled MACs to 3 significant digits
    low_text, high_text = fmt.format(lo), fmt.format(hi)
    return f"{low_text}{unit}" if low_text == high_text else f"{low_text}–{high_text}{unit}"
