"""Dashboard numbers: turns per day, intent distribution, fallback and handoff rates, sentiment trend,
topics per day and sentiment per topic."""

from typing import Annotated

from fastapi import APIRouter, Query

from kefu.api_models import (
    AnalyticsOut,
    DayOut,
    IntentCountOut,
    SentimentDayOut,
    TopicSentimentOut,
    TopicTrendOut,
)
from kefu.server.deps import ServicesDep, UserDep

router = APIRouter(tags=["analytics"])


@router.get("/analytics", response_model=AnalyticsOut)
def analytics(
    services: ServicesDep,
    _: UserDep,
    days: Annotated[int, Query(ge=1, le=366, description="the last N UTC days, today included")] = 30,
    topics: Annotated[int, Query(ge=1, le=12, description="how many topics the topic trend follows")] = 5,
) -> AnalyticsOut:
    """Everything the dashboard's analytics page draws, for the last ``days`` days. A topic is the
    predicted intent of a customer's message."""
    repo = services.repo
    return AnalyticsOut(
        days=days,
        turns_per_day=[DayOut.model_validate(d) for d in repo.turns_per_day(days)],
        intents=[IntentCountOut.model_validate(i) for i in repo.intent_distribution(days, limit=20)],
        fallback_rate=repo.fallback_rate(days),
        handoff_rate=repo.handoff_rate(days),
        sentiment=[SentimentDayOut.model_validate(s) for s in repo.sentiment_trend(days)],
        topics=TopicTrendOut.model_validate(repo.topic_trend(days, top=topics)),
        topic_sentiment=[
            TopicSentimentOut.model_validate(t) for t in repo.sentiment_by_topic(days, limit=12)
        ],
        unanswered=repo.count_unanswered(days),
        model_version=services.bot.version,
    )
