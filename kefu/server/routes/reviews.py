"""The review queue: turns the bot was unsure about, for a person to label with the right intent, and the
model's prediction (with per-word scores) for any text, which the queue shows beside each turn."""

from functools import partial
from typing import Annotated, Literal

from anyio import to_thread
from fastapi import APIRouter, HTTPException, Path, Query, status

from kefu.api_models import (
    MAX_DB_INT,
    ErrorOut,
    IntentsOut,
    LabelIn,
    PredictIn,
    PredictOut,
    ReviewOut,
)
from kefu.runtime.engine import Engine
from kefu.server.deps import Services, ServicesDep, UserDep

router = APIRouter(tags=["reviews"])
NOT_FOUND = {404: {"model": ErrorOut}}
ReviewId = Annotated[int, Path(ge=1, le=MAX_DB_INT)]


@router.get("/reviews", response_model=list[ReviewOut])
def reviews(
    services: ServicesDep,
    _: UserDep,
    status_: Annotated[Literal["pending", "labelled", "dismissed"], Query(alias="status")] = "pending",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_DB_INT)] = 0,
) -> list[ReviewOut]:
    """Reviews with ``status``, oldest first, each with the customer's text and the model's guess."""
    return [ReviewOut.model_validate(r) for r in services.repo.review_queue(status_, limit, offset)]


@router.get("/intents", response_model=IntentsOut)
def intents(services: ServicesDep, _: UserDep) -> IntentsOut:
    """The intents a review can be labelled with: the current model's (``out_of_scope`` included)."""
    labels = set(services.bot.intents) | {"out_of_scope"}
    return IntentsOut(intents=sorted(labels), model_version=services.bot.version)


@router.post("/predict", response_model=PredictOut)
async def predict(body: PredictIn, services: ServicesDep, _: UserDep) -> PredictOut:
    """The answering model's prediction for ``text`` (nothing is recorded); with ``explain: true`` also a
    score per word for ``intent`` (default: the top-ranked one). The review queue highlights words with it."""
    engine = services.bot.engine
    if body.intent is not None and body.intent not in engine.model.labels:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"the model has no intent {body.intent!r}")
    return await to_thread.run_sync(partial(_predict, services, engine, body), limiter=services.model_threads)


def _predict(services: Services, engine: Engine, body: PredictIn) -> PredictOut:
    text = services.bot.redact(body.text)
    prediction = engine.model.predict(text)[0]
    explanation = engine.model.explain(text, body.intent).to_dict() if body.explain else None
    return PredictOut(**prediction.to_dict(), explanation=explanation, model_version=engine.version)


@router.post("/reviews/{review_id}/label", response_model=ReviewOut, responses=NOT_FOUND)
def label(review_id: ReviewId, body: LabelIn, services: ServicesDep, user: UserDep) -> ReviewOut:
    """Set the correct intent; the next retrain learns it (``data/reviewed.yml``)."""
    known = set(services.bot.intents) | {"out_of_scope"}
    if body.intent not in known:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"unknown intent {body.intent!r}; see GET /api/v1/admin/intents",
        )
    return ReviewOut.model_validate(services.repo.label_review(review_id, body.intent, user.user_id))


@router.post("/reviews/{review_id}/dismiss", response_model=ReviewOut, responses=NOT_FOUND)
def dismiss(review_id: ReviewId, services: ServicesDep, user: UserDep) -> ReviewOut:
    """Drop a review without a label (noise, or the model was right after all)."""
    return ReviewOut.model_validate(services.repo.dismiss_review(review_id, user.user_id))
