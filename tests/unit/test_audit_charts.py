"""The SVG chart renderer: marks carry the exact numbers, text is escaped, axes are round."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from procledger.audit import charts

SVG = "{http://www.w3.org/2000/svg}"


def _marks(svg: str) -> list[ET.Element]:
    return [e for e in ET.fromstring(svg).iter() if "data-value" in e.attrib]


def test_bars_carry_each_value_a_title_legend_and_axis() -> None:
    svg = charts.bars(
        "Ordered vs delivered", "quantity", ["DEU", "FRA"],
        [charts.Series("ordered", [1500, 200]), charts.Series("delivered", [1000, 0])],
    )  # fmt: skip
    root = ET.fromstring(svg)
    marks = _marks(svg)
    assert [(m.get("data-series"), m.get("data-category"), m.get("data-value")) for m in marks] == [
        ("ordered", "DEU", "1500"), ("delivered", "DEU", "1000"),
        ("ordered", "FRA", "200"), ("delivered", "FRA", "0"),
    ]  # fmt: skip
    assert marks[0].findtext(f"{SVG}title") == "DEU: ordered 1,500"
    legends = [g for g in root.iter(f"{SVG}g") if g.get("class") == "legend"]
    assert ["".join(g.itertext()) for g in legends] == ["ordered", "delivered"]
    ticks = [t.text for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "end"]
    assert "0" in ticks and "1.5k" in ticks and "quantity" in "".join(root.itertext())


def test_markup_in_labels_stays_text() -> None:
    hostile = '<img src=x onerror="alert(1)">'
    svg = charts.bars(hostile, hostile, [hostile], [charts.Series(hostile, [1])])
    root = ET.fromstring(svg)  # well-formed XML: nothing was spliced in raw
    assert not [e for e in root.iter() if e.tag.endswith("img")]
    assert hostile in "".join(root.itertext())
    assert _marks(svg)[0].get("data-category") == hostile


def test_step_line_ends_on_the_exact_running_total_with_the_reference_line() -> None:
    points = [("2023-01-03", Decimal("0.10")), ("2023-02-01", Decimal("999999999.90")),
              ("2023-06-15", Decimal("1000000000.00"))]  # fmt: skip
    svg = charts.step_line("cum", "USD", points, "155mm", reference=(10**9, "USD 1bn"))
    assert [m.get("data-value") for m in _marks(svg)] == ["0.10", "999999999.90", "1000000000.00"]
    root = ET.fromstring(svg)
    reference = [ln for ln in root.iter(f"{SVG}line") if ln.get("stroke-dasharray")]
    assert len(reference) == 1 and reference[0].findtext(f"{SVG}title") == "USD 1bn: 1,000,000,000"
    # The last point and the reference line sit at the same height: the billion is reached.
    last = _marks(svg)[-1]
    assert last.get("cy") == reference[0].get("y1")


def test_empty_charts_say_so() -> None:
    assert "no data" in charts.bars("t", "y", [], [charts.Series("s", [])])
    assert _marks(charts.step_line("t", "y", [], "s")) == []


@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10) ** 15, places=2))
def test_the_axis_top_covers_the_largest_value_in_round_steps(top: Decimal) -> None:
    step = charts.nice_step(top)
    digits = step.normalize().as_tuple().digits
    assert digits in ((1,), (2,), (2, 5), (5,))
    assert step * 5 >= top / 2 and step <= top
