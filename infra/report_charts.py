"""The strategy report's charts, drawn by matplotlib as SVG to inline in the page (self-contained: no script, no
file beside it). Each takes the measures' rows and returns one `<svg>` element."""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # no display: charts are drawn into files only

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from dunning.measures import AgencyPerformance, PromiseKept  # noqa: E402

plt.rcParams.update({"svg.fonttype": "none", "font.size": 9, "axes.spines.top": False, "axes.spines.right": False})
WIDTH, HEIGHT = 6.4, 3.2  # inches; the page scales them


def cure_curves(curves: dict[str, list[float]], title: str) -> str:
    """Share cured by days since entry, one line per arm."""
    figure, axes = _figure(title)
    if not any(curves.values()):
        return _empty(figure, axes)
    for arm, curve in sorted(curves.items()):
        axes.plot(range(len(curve)), [100 * share for share in curve], label=arm, linewidth=1.8)
    axes.set_xlabel("days since entering delinquency")
    axes.set_ylabel("cured (%)")
    axes.legend(frameon=False)
    return _svg(figure)


def roll_heat_map(rates: dict[str, dict[str, float]], buckets: Sequence[str], title: str) -> str:
    """Bucket at one month's end (rows) to the next (columns), the share of accounts, with the figures written in."""
    figure, axes = _figure(title, height=HEIGHT + 0.6)
    rows = [b for b in buckets if b in rates]
    columns = [b for b in [*buckets, "cured", "closed"] if any(b in rates[r] for r in rows)]
    if not rows or not columns:
        return _empty(figure, axes)
    grid = [[100 * rates[r].get(c, 0.0) for c in columns] for r in rows]
    axes.imshow(grid, cmap="Blues", vmin=0, vmax=100, aspect="auto")
    axes.set_xticks(range(len(columns)), columns, rotation=30, ha="right")
    axes.set_yticks(range(len(rows)), rows)
    axes.set_xlabel("at the next month's end")
    axes.set_ylabel("at a month's end")
    for i, row in enumerate(grid):
        for j, value in enumerate(row):
            axes.text(j, i, f"{value:.0f}%", ha="center", va="center", color="white" if value > 60 else "black")
    return _svg(figure)


def promise_outcomes(rows: list[PromiseKept], title: str) -> str:
    """Promises and plans that came due, per arm: kept, kept in part, broken."""
    figure, axes = _figure(title)
    rows = [r for r in rows if r.came_due]
    if not rows:
        return _empty(figure, axes)
    labels = [f"{r.slice} ({r.kind})" for r in rows]
    left = [0] * len(rows)
    for name, color in (("kept", "#2e7d32"), ("kept_in_part", "#f9a825"), ("broken", "#c62828")):
        counts = [getattr(r, name) for r in rows]
        axes.barh(labels, counts, left=left, color=color, label=name.replace("_", " "))
        left = [a + b for a, b in zip(left, counts)]
    axes.set_xlabel("promises that came due")
    axes.legend(frameon=False, ncols=3, loc="lower right")
    return _svg(figure)


def bars(values: dict[str, float], title: str, unit: str) -> str:
    """One bar per arm, agency or segment: cost per cure, recovery rate."""
    figure, axes = _figure(title)
    if not values:
        return _empty(figure, axes)
    names = sorted(values)
    axes.bar(names, [values[n] for n in names], color="#1565c0")
    axes.set_ylabel(unit)
    for x, name in enumerate(names):
        axes.text(x, values[name], f"{values[name]:,.1f}", ha="center", va="bottom")
    return _svg(figure)


def agency_yield(rows: list[AgencyPerformance], title: str) -> str:
    return bars(
        {f"{r.agency} ({r.currency})": 100 * (r.recovery_rate or 0.0) for r in rows if r.placements},
        title,
        "recovered of placed (%)",
    )


def _figure(title: str, height: float = HEIGHT) -> tuple[Figure, plt.Axes]:
    figure, axes = plt.subplots(figsize=(WIDTH, height), layout="constrained")
    axes.set_title(title, loc="left", fontweight="bold")
    return figure, axes


def _empty(figure: Figure, axes: plt.Axes) -> str:
    axes.set_axis_off()
    axes.text(0.5, 0.5, "nothing in this period", ha="center", va="center", transform=axes.transAxes)
    return _svg(figure)


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})  # no date: the same figures draw the same SVG
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]
