"""The metric kit's CountedHistogram scrapes as prometheus_client's Histogram would."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from procledger.metric_factory import CountedHistogram, MetricFactory

BUCKETS = (0.001, 0.01, 0.1, 0.5, 1, 2.5, 10, 300)
_AMOUNTS = st.one_of(
    st.sampled_from(BUCKETS),  # on a bound: it belongs to that bucket (le is inclusive)
    st.floats(min_value=0, max_value=1000, allow_nan=False),
)


def _exposition(registry: CollectorRegistry) -> list[str]:
    """The page's sample lines, without the _created sample only Histogram writes."""
    return [
        line
        for line in generate_latest(registry).decode().splitlines()
        if not line.startswith("#") and "_created" not in line
    ]


@given(st.lists(st.tuples(_AMOUNTS, st.integers(min_value=1, max_value=50)), max_size=30))
def test_counted_observations_scrape_as_histogram_observing_each_one(
    observed: list[tuple[float, int]],
) -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    counted = CountedHistogram("x_seconds", "Latency", BUCKETS, registry=ours)
    histogram = Histogram("x_seconds", "Latency", buckets=BUCKETS, registry=theirs)
    for amount, count in observed:
        counted.observe(amount, count)
        for _ in range(count):
            histogram.observe(amount)
    mine, reference = _exposition(ours), _exposition(theirs)
    # The sums may differ in the last digits (amount * count against repeated adds).
    assert [x for x in mine if "_sum" not in x] == [x for x in reference if "_sum" not in x]
    (my_sum,) = (float(x.split()[-1]) for x in mine if "_sum" in x)
    (their_sum,) = (float(x.split()[-1]) for x in reference if "_sum" in x)
    assert math.isclose(my_sum, their_sum, rel_tol=1e-9, abs_tol=1e-9)


def test_the_factory_names_and_documents_it() -> None:
    registry = CollectorRegistry()
    MetricFactory(registry, "p_", {"lag_seconds": "How far behind"}).counted_histogram(
        "lag_seconds", buckets=(1, 2)
    ).observe(1.5, 3)
    text = generate_latest(registry).decode()
    assert "# HELP p_lag_seconds How far behind" in text
    assert "# TYPE p_lag_seconds histogram" in text
    assert 'p_lag_seconds_bucket{le="1.0"} 0.0' in text
    assert 'p_lag_seconds_bucket{le="2.0"} 3.0' in text
    assert 'p_lag_seconds_bucket{le="+Inf"} 3.0' in text
    assert "p_lag_seconds_count 3.0" in text


@pytest.mark.parametrize("buckets", [(), (1, 1), (2, 1), (1, math.inf), (math.nan,)])
def test_buckets_that_are_not_finite_and_increasing_are_refused(
    buckets: tuple[float, ...],
) -> None:
    with pytest.raises(ValueError, match="x_seconds: buckets must be finite"):
        CountedHistogram("x_seconds", "x", buckets, registry=CollectorRegistry())


def test_a_second_metric_of_the_same_name_is_refused() -> None:
    registry = CollectorRegistry()
    CountedHistogram("x_seconds", "x", (1,), registry=registry)
    with pytest.raises(ValueError, match=r"Duplicated timeseries.*x_seconds"):
        Histogram("x_seconds", "x", registry=registry)
