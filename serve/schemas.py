"""Request and response bodies of the HTTP API (they make its OpenAPI spec).

Bounds that come from the settings (largest batch, largest page) are set per app by
:func:`classify_request`; the rest are fixed here. Tweets posted to ``/tweets`` are *not*
parsed by these models but by :func:`tweetstream.schemas.parse_raw`, the schema the producer
and the worker share, so that every item gets its own reason when it is rejected.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tweetstream.schemas import MAX_TEXT_CHARS

#: longest keyword (as in ``RawTweet``)
MAX_KEYWORD_CHARS = 200


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("is empty")
    return value


class TextIn(BaseModel):
    """One text to classify, with its optional keyword (the Kaggle ``keyword`` column)."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(
        min_length=1, max_length=MAX_TEXT_CHARS, examples=["Forest fire near La Ronge"]
    )
    keyword: str | None = Field(None, max_length=MAX_KEYWORD_CHARS, examples=["wildfire"])

    _text = field_validator("text")(_not_blank)


def classify_request(max_batch: int) -> type[BaseModel]:
    """The ``/classify`` body: exactly one of ``text`` (one) or ``tweets`` (a batch)."""

    class ClassifyRequest(BaseModel):
        """One text (``text`` and optional ``keyword``) or a batch (``tweets``)."""

        model_config = ConfigDict(
            extra="forbid",
            json_schema_extra={
                "examples": [
                    {"text": "Forest fire near La Ronge Sask. Canada", "keyword": "wildfire"},
                    {"tweets": [{"text": "I love fruits"}, {"text": "Earthquake in Nepal"}]},
                ]
            },
        )

        text: str | None = Field(None, min_length=1, max_length=MAX_TEXT_CHARS)
        keyword: str | None = Field(None, max_length=MAX_KEYWORD_CHARS)
        tweets: list[TextIn] | None = Field(None, min_length=1, max_length=max_batch)

        @field_validator("text")
        @classmethod
        def _text_not_blank(cls, value: str | None) -> str | None:
            return None if value is None else _not_blank(value)

        @model_validator(mode="after")
        def _one_or_batch(self) -> ClassifyRequest:
            if (self.text is None) == (self.tweets is None):
                raise ValueError("give either text (one) or tweets (a batch), not both or none")
            if self.tweets is not None and self.keyword is not None:
                raise ValueError("keyword goes with text; in a batch each tweet has its own")
            return self

        def items(self) -> list[TextIn]:
            if self.tweets is not None:
                return list(self.tweets)
            assert self.text is not None  # checked by _one_or_batch
            return [TextIn(text=self.text, keyword=self.keyword)]

    return ClassifyRequest


class Prediction(BaseModel):
    label: Literal[0, 1]
    label_name: str
    probability: float = Field(ge=0.0, le=1.0, description="P(about a real disaster)")


class ClassifyResponse(BaseModel):
    model_name: str
    model_version: str
    results: list[Prediction] = Field(description="One per input text, in order.")


class ExplainRequest(TextIn):
    k: int = Field(5, ge=1, le=20, description="Features to show on each side.")


class Term(BaseModel):
    term: str = Field(description="A word, bigram, word prefix (…) or the keyword.")
    feature: str = Field(description="The fitted feature name.")
    contribution: float = Field(description="TF-IDF value x weight; > 0 towards disaster.")


class ExplainResponse(Prediction):
    model_name: str
    model_version: str
    towards: list[Term] = Field(description="Strongest pushes towards 'disaster' first.")
    against: list[Term] = Field(description="Strongest pushes against 'disaster' first.")


class Delivery(BaseModel):
    id: str
    partition: int
    offset: int


class PublishResponse(BaseModel):
    topic: str
    published: int
    deliveries: list[Delivery]


class ItemError(BaseModel):
    index: int | None = Field(description="Position of the item in the request (null: the body).")
    id: str | None = None
    reason: str


class PublishRejected(BaseModel):
    detail: list[ItemError]


class ClassifiedOut(BaseModel):
    id: str
    text: str
    keyword: str | None
    location: str | None
    label: Literal[0, 1]
    label_name: str
    probability: float
    model_name: str
    model_version: str
    produced_at: datetime | None
    classified_at: datetime


class LatestResponse(BaseModel):
    tweets: list[ClassifiedOut]


class StatsResponse(BaseModel):
    window_minutes: int
    total: int = Field(description="Tweets classified in the window.")
    disaster: int = Field(description="Of those, classified as about a real disaster.")
    disaster_share: float | None = Field(description="disaster / total (null when total is 0).")
    all_time_total: int
    latest_classified_at: datetime | None


class ModelInfo(BaseModel):
    model_name: str
    model_version: str | None = Field(description="Version served now (null: none loaded yet).")


class Check(BaseModel):
    ok: bool
    detail: str


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, Check]
    detail: str | None = None


class Message(BaseModel):
    detail: str


class ReviewItem(BaseModel):
    id: str
    text: str
    keyword: str | None
    location: str | None
    probability: float = Field(description="P(about a real disaster) the model gave.")
    model_version: str
    classified_at: datetime


class ReviewResponse(BaseModel):
    strategy: Literal["uncertainty", "newest", "random"]
    items: list[ReviewItem] = Field(description="Best first; no two near duplicates.")


class QueueSize(BaseModel):
    waiting: int = Field(description="Distinct (by text key) recent tweets not labeled yet.")


class LabelOut(BaseModel):
    id: str
    target: Literal[0, 1]
    reviewer: str
    labeled_at: datetime


class LabelsResponse(BaseModel):
    topic: str
    published: int
    labels: list[LabelOut]
