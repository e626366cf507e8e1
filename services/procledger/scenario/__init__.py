"""Scenario generators: the deterministic 155mm story and a streaming synthetic load."""

from procledger.scenario.story import (
    STORY_TOTAL_USD,
    WINDOW_END,
    WINDOW_START,
    StoryOracle,
    story_events,
    story_oracle,
    story_specs,
)
from procledger.scenario.synthetic import SyntheticOracle, synthetic_events, synthetic_placed

__all__ = [
    "STORY_TOTAL_USD",
    "WINDOW_END",
    "WINDOW_START",
    "StoryOracle",
    "SyntheticOracle",
    "story_events",
    "story_oracle",
    "story_specs",
    "synthetic_events",
    "synthetic_placed",
]
