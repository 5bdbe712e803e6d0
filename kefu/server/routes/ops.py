"""Operations: liveness for load balancers and Prometheus metrics."""

from fastapi import APIRouter, Response

from kefu.server.deps import ServicesDep
from kefu.server.schemas import HealthOut
from kefu.store.db import safe_url

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=HealthOut)
def healthz(services: ServicesDep) -> HealthOut:
    """OK when the model is loaded and the database answers (a query is made)."""
    services.repo.get_conversation("healthz")  # raises StoreError (503) when the database is down
    engine = services.bot.engine
    return HealthOut(
        status="ok",
        model_version=engine.version,
        database=safe_url(services.repo.store.url),
        knowledge_base=engine.kb is not None,
    )


@router.get("/metrics", response_class=Response)
def metrics(services: ServicesDep) -> Response:
    """Prometheus text format: requests and latency per route, turns per decision, the model version."""
    services.metrics.set_model(services.bot.version)
    return Response(services.metrics.render(), media_type=services.metrics.content_type)
