"""Small inline SVG bars, generated here: no chart library, nothing fetched.

Each bar is its own SVG (a 100×10 viewBox stretched to the cell's width) so the labels stay HTML
text that wraps on a phone; colours come from the page's CSS classes, so the SVG carries no style.
"""

from __future__ import annotations

from collections.abc import Sequence

from hostwarden.report.html.text import esc

_HEIGHT = 10


def _svg(body: str, label: str) -> str:
    return (f'<svg class="bar" viewBox="0 0 100 {_HEIGHT}" preserveAspectRatio="none" role="img" '
            f'aria-label="{esc(label)}">{body}</svg>')


def _rect(x: float, width: float, cls: str) -> str:
    return f'<rect class="{cls}" x="{x:.2f}" y="0" width="{width:.2f}" height="{_HEIGHT}"/>'


def score_class(score: float | None) -> str:
    """good ≥ 80 %, fair ≥ 60 %, poor below, none when nothing was assessed."""
    if score is None:
        return "none"
    return "good" if score >= 80 else "fair" if score >= 60 else "poor"


def score_bar(score: float | None, label: str) -> str:
    """A 0–100 % bar on a track."""
    fill = _rect(0, max(0.0, min(100.0, score or 0.0)), f"fill {score_class(score)}") if score else ""
    return _svg(_rect(0, 100, "track") + fill, label)


def stacked_bar(parts: Sequence[tuple[int, str]], scale: int, label: str) -> str:
    """Counts side by side (class per part), `scale` being the count that fills the width."""
    x, body = 0.0, _rect(0, 100, "track")
    for count, cls in parts:
        if count <= 0 or scale <= 0:
            continue
        width = 100 * count / scale
        body += _rect(x, width, f"fill {cls}")
        x += width
    return _svg(body, label)
