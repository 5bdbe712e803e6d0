"""Dashboard numbers: turns per day, intent distribution, fallback and handoff rates, sentiment trend."""

from typing import Annotated

from fastapi import APIRouter, Query

from kefu.server.deps import ServicesDep, UserDep
from kefu.server.schemas import AnalyticsOut, DayOut, IntentCountOut, SentimentDayOut

router = APIRouter(tags=["analytics"])


@router.get("/analytics", response_model=AnalyticsOut)
def analytics(
    services: ServicesDep,
    _: UserDep,
    days: Annotated[int, Query(ge=1, le=366, description="the last N UTC days, today included")] = 30,
) -> AnalyticsOut:
    """Everything the dashboard's analytics page draws, for the last ``days`` days."""
    repo = services.repo
    return AnalyticsOut(
        days=days,
        turns_per_day=[DayOut.model_validate(d) for d in repo.turns_per_day(days)],
        intents=[IntentCountOut.model_validate(i) for i in repo.intent_distribution(days, limit=20)],
        fallback_rate=repo.fallback_rate(days),
        handoff_rate=repo.handoff_rate(days),
        sentiment=[SentimentDayOut.model_validate(s) for s in repo.sentiment_trend(days)],
        model_version=services.bot.version,
    )
