"""The promotion gate: may a challenger replace the champion?

:func:`decide` is pure (numbers in, decision out) so every rule is unit-tested;
:func:`models.registry.run_gate` feeds it real scores and writes the outcome to the registry.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from tweetstream.settings import Settings


@dataclass(frozen=True)
class Score:
    """One model scored on the fixed evaluation set."""

    f1: float
    precision: float
    recall: float
    accuracy: float
    positive_rate: float
    tweets_per_second: float
    n: int


@dataclass(frozen=True)
class GatePolicy:
    """The gate's thresholds (from settings)."""

    f1_margin: float
    min_tweets_per_second: float
    max_positive_rate_gap: float

    @classmethod
    def from_settings(cls, settings: Settings) -> GatePolicy:
        return cls(
            f1_margin=settings.gate_f1_margin,
            min_tweets_per_second=settings.gate_min_tweets_per_second,
            max_positive_rate_gap=settings.gate_max_positive_rate_gap,
        )


@dataclass(frozen=True)
class Decision:
    """The gate's verdict with every number it used."""

    promote: bool
    reasons: tuple[str, ...]
    compared_with: str  # "champion" or "baseline"
    challenger: Score
    reference: Score
    true_positive_rate: float
    policy: GatePolicy

    def as_tags(self) -> dict[str, str]:
        """MLflow model-version tags that record the decision and its numbers."""
        tags = {
            "gate.decision": "promoted" if self.promote else "refused",
            "gate.reasons": "; ".join(self.reasons),
            "gate.compared_with": self.compared_with,
            "gate.true_positive_rate": f"{self.true_positive_rate:.4f}",
        }
        for who, score in (("challenger", self.challenger), (self.compared_with, self.reference)):
            for key, value in asdict(score).items():
                tags[f"gate.{who}.{key}"] = (
                    f"{value:.4f}" if isinstance(value, float) else str(value)
                )
        for key, value in asdict(self.policy).items():
            tags[f"gate.policy.{key}"] = str(value)
        return tags


def decide(
    challenger: Score,
    reference: Score,
    true_positive_rate: float,
    policy: GatePolicy,
    reference_is_champion: bool = True,
) -> Decision:
    """Promote only if F1 beats the reference, speed fits the budget and the positive rate is sane.

    Against a champion the challenger must gain ``f1_margin``; the very first model only has
    to beat the seed baseline (any gain).
    """
    reasons: list[str] = []
    margin = policy.f1_margin if reference_is_champion else 0.0
    name = "champion" if reference_is_champion else "baseline"
    gain = challenger.f1 - reference.f1
    f1_ok = gain >= margin if reference_is_champion else gain > 0
    reasons.append(
        f"F1 {challenger.f1:.4f} vs {name} {reference.f1:.4f} (gain {gain:+.4f}, "
        f"needed {'>=' if reference_is_champion else '>'} {margin:+.4f}): "
        + ("ok" if f1_ok else "too small")
    )
    fast = challenger.tweets_per_second >= policy.min_tweets_per_second
    reasons.append(
        f"speed {challenger.tweets_per_second:,.0f} tweets/s (budget "
        f"{policy.min_tweets_per_second:,.0f}): " + ("ok" if fast else "too slow")
    )
    gap = abs(challenger.positive_rate - true_positive_rate)
    sane = gap <= policy.max_positive_rate_gap
    reasons.append(
        f"positive rate {challenger.positive_rate:.3f} vs true {true_positive_rate:.3f} "
        f"(gap {gap:.3f}, max {policy.max_positive_rate_gap}): " + ("ok" if sane else "not sane")
    )
    return Decision(
        promote=f1_ok and fast and sane,
        reasons=tuple(reasons),
        compared_with=name,
        challenger=challenger,
        reference=reference,
        true_positive_rate=true_positive_rate,
        policy=policy,
    )
