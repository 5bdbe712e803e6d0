"""Unanswered questions that look alike, and accepting a group of them as an intent (the review queue's
cluster cards; see :mod:`kefu.runtime.clusters`)."""

from functools import partial
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Query

from kefu.api_models import AcceptClusterIn, AcceptedOut, ClusterOut, ClustersOut, ErrorOut, TermOut
from kefu.server.deps import ServicesDep, UserDep

router = APIRouter(tags=["reviews"])


@router.get("/clusters", response_model=ClustersOut)
async def clusters(
    services: ServicesDep,
    _: UserDep,
    days: Annotated[int, Query(ge=1, le=366, description="the last N UTC days, today included")] = 30,
) -> ClustersOut:
    """The customer messages of the window that the bot could not answer (fallback or out of scope) and
    that still wait for review, grouped by meaning; best groups first. The first call for a window takes
    seconds (it embeds and clusters); the result is reused while those messages stay the same."""
    # in a worker thread of its own: the event loop keeps serving, and chat turns keep their model thread
    report = await to_thread.run_sync(
        partial(services.clusters.report, days), limiter=services.analysis_threads
    )
    return ClustersOut(
        days=report.days,
        unanswered=report.unanswered,
        clustered=report.clustered,
        clusters=[
            ClusterOut(
                name=c.name,
                terms=[TermOut(term=t.text, score=t.score, count=t.count) for t in c.terms],
                size=c.size,
                cohesion=min(1.0, max(0.0, c.cohesion)),
                mixed=c.mixed,
                examples=c.examples,
                turn_ids=c.turn_ids,
            )
            for c in report.clusters
        ],
        computed_at=report.computed_at,
        embedder=report.embedder,
    )


@router.post("/clusters/accept", response_model=AcceptedOut, responses={409: {"model": ErrorOut}})
def accept(body: AcceptClusterIn, services: ServicesDep, user: UserDep) -> AcceptedOut:
    """Make a cluster an intent: the pending reviews of ``turn_ids`` are labelled with ``intent`` (new or
    existing), as labelling each in the review queue would, and leave the queue; the next retrain learns
    them (``data/reviewed.yml``). 409 when none of the turns is waiting for review any more."""
    done = services.clusters.accept(body.intent, body.turn_ids, user.user_id)
    return AcceptedOut(
        intent=done.intent, new_intent=done.new_intent, turn_ids=done.turn_ids, skipped=done.skipped
    )
