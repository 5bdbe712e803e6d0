"""Operations: health for load balancers and Prometheus metrics."""

from fastapi import APIRouter, Response

from kefu.api_models import HealthOut
from kefu.server.deps import ServicesDep

router = APIRouter(tags=["operations"])
RETRY_AFTER_S = 2


@router.get("/healthz", response_model=HealthOut, responses={503: {"model": HealthOut}})
def healthz(services: ServicesDep, response: Response) -> HealthOut:
    """200 when the model is loaded and the database works (a read is made, and no recent database
    operation failed); 503 with Retry-After otherwise. The database is named by kind, never by URL or path."""
    store = services.repo.store
    database = store.health()
    engine = services.bot.engine
    if database != "ok":
        response.status_code = 503
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return HealthOut(
        status="ok" if database == "ok" else "degraded",
        model_version=engine.version,
        database=store.dialect,
        database_status=database,
        knowledge_base=engine.kb is not None,
    )


@router.get("/metrics", response_class=Response)
def metrics(services: ServicesDep) -> Response:
    """Prometheus text format: requests and latency per route, turns per decision, database faults and
    retries, the model version."""
    services.metrics.set_model(services.bot.version)
    return Response(services.metrics.render(), media_type=services.metrics.content_type)
