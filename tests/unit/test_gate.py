"""The promotion gate's decisions on constructed scores."""

from __future__ import annotations

from dataclasses import replace

import pytest

from models.gate import GatePolicy, Score, decide

POLICY = GatePolicy(f1_margin=0.01, min_tweets_per_second=20_000, max_positive_rate_gap=0.1)
CHAMPION = Score(
    f1=0.78,
    precision=0.8,
    recall=0.76,
    accuracy=0.82,
    positive_rate=0.42,
    tweets_per_second=40_000,
    n=700,
)
TRUE_RATE = 0.43


def test_better_fast_sane_challenger_is_promoted() -> None:
    challenger = replace(CHAMPION, f1=0.80)
    decision = decide(challenger, CHAMPION, TRUE_RATE, POLICY)
    assert decision.promote
    assert decision.compared_with == "champion"


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"f1": 0.785}, "too small"),  # better, but by less than the margin
        ({"f1": 0.70}, "too small"),
        ({"f1": 0.85, "tweets_per_second": 5_000}, "too slow"),
        ({"f1": 0.85, "positive_rate": 0.9}, "not sane"),
        ({"f1": 0.85, "positive_rate": 0.0}, "not sane"),  # a model that never says "disaster"
    ],
)
def test_challenger_is_refused(change: dict[str, float], why: str) -> None:
    decision = decide(replace(CHAMPION, **change), CHAMPION, TRUE_RATE, POLICY)
    assert not decision.promote
    assert any(why in r for r in decision.reasons)


def test_margin_is_inclusive() -> None:
    assert decide(replace(CHAMPION, f1=0.79), CHAMPION, TRUE_RATE, POLICY).promote


def test_first_model_only_needs_to_beat_the_baseline() -> None:
    baseline = replace(CHAMPION, f1=0.74)
    slightly_better = replace(CHAMPION, f1=0.745)
    assert decide(slightly_better, baseline, TRUE_RATE, POLICY, reference_is_champion=False).promote
    assert not decide(baseline, baseline, TRUE_RATE, POLICY, reference_is_champion=False).promote


def test_tags_record_decision_and_numbers() -> None:
    decision = decide(replace(CHAMPION, f1=0.70), CHAMPION, TRUE_RATE, POLICY)
    tags = decision.as_tags()
    assert tags["gate.decision"] == "refused"
    assert tags["gate.challenger.f1"] == "0.7000"
    assert tags["gate.champion.f1"] == "0.7800"
    assert tags["gate.policy.f1_margin"] == "0.01"
    assert "too small" in tags["gate.reasons"]
