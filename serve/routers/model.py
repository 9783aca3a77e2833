"""``POST /classify``, ``POST /explain``, ``GET /model``: the champion model, asked directly.

Texts are classified by :func:`models.serving.predict`, the worker's own call, so the API and
the stream give a tweet the same probability and label.
"""

# No `from __future__ import annotations` here: FastAPI evaluates the endpoints' annotations,
# and the /classify body is a model built from the settings inside router().
from fastapi import APIRouter

from models.serving import LoadedModel, ModelHolder, predict
from serve.errors import UNAVAILABLE, ServiceUnavailable
from serve.explain import explain
from serve.metrics import ApiMetrics
from serve.schemas import (
    ClassifyResponse,
    ExplainRequest,
    ExplainResponse,
    ModelInfo,
    Prediction,
    Term,
    TextIn,
    classify_request,
)
from tweetstream.schemas import LABEL_NAMES
from tweetstream.settings import Settings


def predictions(model: LoadedModel, items: list[TextIn]) -> list[Prediction]:
    """One model call for all items (:func:`models.serving.predict`, as the worker)."""
    out = predict(model.model, [i.text for i in items], [i.keyword for i in items])
    return [
        Prediction(label=1 if label else 0, label_name=LABEL_NAMES[label], probability=p)
        for p, label in zip(out.probability.tolist(), out.label.tolist(), strict=True)
    ]


def explained(model: LoadedModel, body: ExplainRequest) -> ExplainResponse:
    """The prediction for one text and the words that pushed it most, on each side."""
    prediction = predictions(model, [body])[0]
    terms = explain(model.model, body.text, body.k, body.keyword)

    def side(direction: str) -> list[Term]:
        return [
            Term(term=t.term, feature=t.feature, contribution=t.contribution)
            for t in terms
            if t.direction == direction
        ]

    return ExplainResponse(
        **prediction.model_dump(),
        model_name=model.name,
        model_version=model.version,
        towards=side("towards"),
        against=side("against"),
    )


def router(settings: Settings, holder: ModelHolder, metrics: ApiMetrics) -> APIRouter:
    """The model endpoints; 503 while ``holder`` has no model yet."""
    api = APIRouter(tags=["model"])
    ClassifyRequest = classify_request(settings.api_max_batch)

    def serving() -> LoadedModel:
        current = holder.current
        if current is None:
            raise ServiceUnavailable(
                f"no model loaded yet: waiting for {settings.model_name}@champion "
                f"from {settings.mlflow_tracking_uri}"
            )
        return current

    @api.post(
        "/classify",
        response_model=ClassifyResponse,
        responses=UNAVAILABLE,
        summary="Classify one text or a batch with the champion model",
    )
    def classify(body: ClassifyRequest) -> ClassifyResponse:  # type: ignore[valid-type]
        model = serving()
        items: list[TextIn] = body.items()  # type: ignore[attr-defined]
        results = predictions(model, items)
        metrics.classified.inc(len(results))
        return ClassifyResponse(model_name=model.name, model_version=model.version, results=results)

    @api.post(
        "/explain",
        response_model=ExplainResponse,
        responses=UNAVAILABLE,
        summary="Classify one text and show the words that pushed the decision most",
    )
    def explain_text(body: ExplainRequest) -> ExplainResponse:
        answer = explained(serving(), body)
        metrics.classified.inc()
        return answer

    @api.get("/model", response_model=ModelInfo, summary="The model served now")
    def model_info() -> ModelInfo:
        current = holder.current
        return ModelInfo(
            model_name=settings.model_name, model_version=current.version if current else None
        )

    return api
