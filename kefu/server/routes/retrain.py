"""Retraining from labelled reviews, as a background job whose progress can be polled."""

from fastapi import APIRouter, status

from kefu.api_models import ErrorOut, RetrainJobOut
from kefu.server.deps import AdminDep, ServicesDep, UserDep

router = APIRouter(tags=["retrain"])


@router.post(
    "/retrain",
    response_model=RetrainJobOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses={403: {"model": ErrorOut}, 409: {"model": ErrorOut}},
)
def start(services: ServicesDep, _: AdminDep) -> RetrainJobOut:
    """Start retraining (admins only): labelled reviews are written to ``data/reviewed.yml``, the model is
    trained on it and ``data/nlu.yml``, and swapped in when ready; the old one answers meanwhile.
    409 while another job runs."""
    return RetrainJobOut.model_validate(services.jobs.start())


@router.get("/retrain/{job_id}", response_model=RetrainJobOut, responses={404: {"model": ErrorOut}})
def job(job_id: str, services: ServicesDep, _: UserDep) -> RetrainJobOut:
    """A retrain job's step, progress (0-1), epoch, and when done the model version now answering."""
    return RetrainJobOut.model_validate(services.jobs.status(job_id))
