"""What every chart shares: the palette of statuses, number formatting, the frame."""

from __future__ import annotations

from collections.abc import Iterable

from markupsafe import Markup, escape

#: Colours by status, chosen to keep a 3:1 contrast with the white background (WCAG
#: 1.4.11) and to tell failure from success without relying on hue alone (the legend
#: and every mark's title name the status).
STATUS_COLOURS: dict[str, str] = {
    "COMPLETED": "#1a7f37",
    "SUCCESS": "#1a7f37",
    "PASSED": "#1a7f37",
    "FAILED": "#cf222e",
    "ERROR": "#8250df",
    "CANCELLED": "#6e7781",
    "RUNNING": "#0969da",
    "PENDING": "#9a6700",
    "WAITING": "#bc4c00",
    "SKIPPED": "#57606a",
    "UNCHANGED": "#57606a",
}
DEFAULT_COLOUR = "#57606a"


def colour(status: str) -> str:
    """The colour of ``status`` (a neutral grey for one without its own)."""
    return STATUS_COLOURS.get(status.upper(), DEFAULT_COLOUR)


def number(value: float) -> str:
    """A coordinate, short: two decimals at most."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def frame(width: int, height: int, label: str, body: Iterable[str], *, kind: str) -> Markup:
    """The ``<svg>`` around ``body``: scalable to its container, labelled for screen readers."""
    return Markup(
        f'<svg class="chart chart-{escape(kind)}" viewBox="0 0 {width} {height}" '
        f'preserveAspectRatio="none" role="img" aria-label="{escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg">' + "".join(body) + "</svg>"
    )


def title(text: str) -> str:
    """A ``<title>`` child: the tooltip of a mark."""
    return f"<title>{escape(text)}</title>"
