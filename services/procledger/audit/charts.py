"""A small SVG chart renderer: grouped bars and step lines with axes, legend and hover values.

Pure: it takes labelled numbers and returns SVG text, so it is tested without a server or a
browser. Every text is XML-escaped (a supplier named like markup stays text). Each mark
carries a <title> (the browser's hover tooltip) and data-series/data-category/data-value
attributes, which tests compare with the API's JSON. Scaling runs in Decimal: money never
passes through a float on its way to a pixel.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from xml.sax.saxutils import escape, quoteattr

WIDTH, HEIGHT = 720, 340
LEFT, RIGHT, TOP, BOTTOM = 84, 16, 52, 96
# Colour-blind-safe pairs (Okabe-Ito) with enough contrast against white for thin marks.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
Number = Decimal | int


@dataclass(frozen=True, slots=True)
class Series:
    """One named set of values, one per category (or point)."""

    name: str
    values: Sequence[Number]


def _d(value: Number) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(value)


def _px(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN))


def nice_step(top: Decimal, ticks: int = 5) -> Decimal:
    """A round tick step (1, 2, 2.5 or 5 times a power of ten) giving about `ticks` ticks."""
    if top <= 0:
        return Decimal(1)
    raw = top / ticks
    power = Decimal(10) ** (raw.adjusted())
    for factor in (1, 2, Decimal("2.5"), 5, 10):
        if power * factor >= raw:
            return power * factor
    return power * 10  # pragma: no cover - the loop ends at 10, which is always enough


def compact(value: Decimal) -> str:
    """Axis labels: 1.5bn, 250M, 40k, 12."""
    for size, suffix in ((Decimal(10) ** 9, "bn"), (Decimal(10) ** 6, "M"), (Decimal(1000), "k")):
        if abs(value) >= size:
            return f"{(value / size).normalize():f}{suffix}"
    return f"{value.normalize():f}"


def grouped(value: Number) -> str:
    """Thousands separators, exact: 1,000,000,000.00."""
    return f"{_d(value):,}"


class _Frame:
    """Axes, ticks, title and legend of one chart; maps values to y pixels."""

    def __init__(self, title: str, y_label: str, top_value: Decimal, whole: bool = False) -> None:
        # Counts get whole-number ticks: no "0.2 records".
        self.step = max(Decimal(1), nice_step(top_value)) if whole else nice_step(top_value)
        self.top = max(
            self.step, (top_value / self.step).to_integral_value("ROUND_CEILING") * self.step
        )
        self.parts: list[str] = [
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
            f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label={quoteattr(title)} '
            'font-family="system-ui, sans-serif" font-size="11">',
            f"<title>{escape(title)}</title>",
            f'<text x="{LEFT}" y="18" font-size="14" font-weight="600" fill="#111">'
            f"{escape(title)}</text>",
            f'<text transform="translate(14 {(TOP + HEIGHT - BOTTOM) // 2}) rotate(-90)" '
            f'text-anchor="middle" fill="#333">{escape(y_label)}</text>',
        ]
        tick = Decimal(0)
        while tick <= self.top:
            y = _px(self.y(tick))
            self.parts.append(
                f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y}" y2="{y}" stroke="#ddd"/>'
                f'<text x="{LEFT - 6}" y="{y}" dy="0.35em" text-anchor="end" fill="#333">'
                f"{escape(compact(tick))}</text>"
            )
            tick += self.step
        base = HEIGHT - BOTTOM
        self.parts.append(
            f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{base}" stroke="#333"/>'
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{base}" y2="{base}" stroke="#333"/>'
        )

    def y(self, value: Number) -> Decimal:
        span = Decimal(HEIGHT - BOTTOM - TOP)
        return Decimal(HEIGHT - BOTTOM) - span * _d(value) / self.top

    def legend(self, names: Sequence[tuple[str, str]]) -> None:
        x = LEFT
        for name, colour in names:
            self.parts.append(
                f'<g class="legend"><rect x="{x}" y="28" width="12" height="12" fill="{colour}"/>'
                f'<text x="{x + 16}" y="38" fill="#111">{escape(name)}</text></g>'
            )
            x += 24 + 7 * len(name)

    def x_label(self, x: Decimal, text: str) -> None:
        self.parts.append(
            f'<text transform="translate({_px(x)} {HEIGHT - BOTTOM + 12}) rotate(-35)" '
            f'text-anchor="end" fill="#333">{escape(text)}</text>'
        )

    def done(self) -> str:
        return "".join([*self.parts, "</svg>"])


def _mark(
    shape: str, series: str, category: str, value: Number, fmt: Callable[[Number], str]
) -> str:
    tip = f"{category}: {series} {fmt(value)}"
    return (
        f"<{shape} data-series={quoteattr(series)} data-category={quoteattr(category)} "
        f'data-value="{_d(value)}"><title>{escape(tip)}</title></{shape.split(maxsplit=1)[0]}>'
    )


def bars(
    title: str,
    y_label: str,
    categories: Sequence[str],
    series: Sequence[Series],
    fmt: Callable[[Number], str] = grouped,
) -> str:
    """Grouped vertical bars: one group per category, one bar per series."""
    top = max([_d(v) for s in series for v in s.values] + [Decimal(0)])
    whole = all(isinstance(v, int) for s in series for v in s.values)
    frame = _Frame(title, y_label, top, whole)
    frame.legend([(s.name, PALETTE[i % len(PALETTE)]) for i, s in enumerate(series)])
    if not categories:
        frame.parts.append(
            f'<text x="{WIDTH // 2}" y="{HEIGHT // 2}" text-anchor="middle" fill="#333">'
            "no data</text>"
        )
        return frame.done()
    band = Decimal(WIDTH - LEFT - RIGHT) / len(categories)
    bar = band * Decimal("0.8") / len(series)
    for c, category in enumerate(categories):
        start = LEFT + band * c + band * Decimal("0.1")
        for i, s in enumerate(series):
            value = _d(s.values[c])
            y = frame.y(max(value, Decimal(0)))
            height = Decimal(HEIGHT - BOTTOM) - y
            geometry = (
                f'rect x="{_px(start + bar * i)}" y="{_px(y)}" width="{_px(bar)}" '
                f'height="{_px(height)}" fill="{PALETTE[i % len(PALETTE)]}"'
            )
            frame.parts.append(_mark(geometry, s.name, category, value, fmt))
        frame.x_label(start + band * Decimal("0.4"), category)
    return frame.done()


def step_line(
    title: str,
    y_label: str,
    points: Sequence[tuple[str, Number]],
    series: str,
    *,
    positions: Sequence[Number] | None = None,
    reference: tuple[Number, str] | None = None,
    fmt: Callable[[Number], str] = grouped,
) -> str:
    """A running total as a step line with a dot per point, and an optional reference line.

    `positions` (e.g. day numbers) place the points along x in proportion; without them the
    points are evenly spaced.
    """
    values = [_d(v) for _, v in points]
    top = max([*values, Decimal(0), *([] if reference is None else [_d(reference[0])])])
    frame = _Frame(title, y_label, top)
    legend = [(series, PALETTE[0])]
    if reference is not None:
        legend.append((reference[1], PALETTE[1]))
    frame.legend(legend)
    if reference is not None:
        y = _px(frame.y(reference[0]))
        frame.parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y}" y2="{y}" stroke="{PALETTE[1]}" '
            f'stroke-width="2" stroke-dasharray="6 4"><title>{escape(reference[1])}: '
            f"{escape(fmt(reference[0]))}</title></line>"
        )
    if not points:
        return frame.done()
    span = Decimal(WIDTH - LEFT - RIGHT)
    at = (
        [_d(p) for p in positions]
        if positions is not None
        else [Decimal(i) for i in range(len(points))]
    )
    low, width = at[0], (at[-1] - at[0]) or Decimal(1)
    xs = [LEFT + span * (a - low) / width for a in at]
    xy = [(_px(x), _px(frame.y(value))) for x, (_, value) in zip(xs, points, strict=True)]
    path = " ".join([f"M{LEFT} {_px(frame.y(0))}", *(f"H{x} V{y}" for x, y in xy)])
    frame.parts.append(f'<path d="{path}" fill="none" stroke="{PALETTE[0]}" stroke-width="2"/>')
    last_label = Decimal(-100)
    for i, ((label, value), (x, y)) in enumerate(zip(points, xy, strict=True)):
        geometry = f'circle cx="{x}" cy="{y}" r="3.5" fill="{PALETTE[0]}"'
        frame.parts.append(_mark(geometry, series, label, value, fmt))
        # A label where there is room for it (rotated labels need ~28 px apart).
        if xs[i] - last_label >= 28 and (i == len(points) - 1 or xs[-1] - xs[i] >= 28):
            frame.x_label(xs[i], label)
            last_label = xs[i]
        elif i == len(points) - 1:
            frame.x_label(xs[i], label)
    return frame.done()
