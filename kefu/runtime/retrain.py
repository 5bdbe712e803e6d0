"""Retrain from reviewed turns while the bot keeps answering, then swap the new model in.

A job: export ``data/reviewed.yml`` from the labelled reviews for the training, and remove it after
(:func:`kefu.runtime.reviewed.reviewed_for_training`; the user's ``data/nlu.yml`` is never touched) ->
:func:`train_project` on a copy of the project in ``models/candidate/`` (the model retrains because its
training files changed; the knowledge index only if ``knowledge/`` changed) -> the project's stories
(``tests/*.yml``) against the candidate, on a throwaway database -> the candidate's models replace the
project's -> :meth:`Bot.swap_model`. A candidate that fails a story is thrown away and the job fails saying
which stories; the old model answers throughout, here and in every other server worker (they reload only
when the project's own model files change).

A job's progress is a small JSON file in ``models/jobs/``, rewritten atomically after every step and
epoch, so whichever server worker is asked can report it, not only the one running it.
"""

import json
import logging
import os
import shutil
import socket
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kefu.errors import KefuError
from kefu.project.settings import MODELS_DIR
from kefu.project.training import KNOWLEDGE_INDEX_DIR, NLU_MODEL_DIR, nlu_model_dir, train_project
from kefu.runtime.bot import Bot
from kefu.runtime.reviewed import reviewed_for_training, write_atomic
from kefu.runtime.stories import StoriesFailed, check_candidate
from kefu.store import ConflictError, NotFoundError

log = logging.getLogger("kefu.runtime")

JOBS_DIR = "jobs"
CANDIDATE_DIR = "candidate"  # in models/: the project copy a job trains and tests before anything is swapped


class RetrainJobs:
    """Starts retrain jobs in a background thread (one at a time) and reports their progress."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self.folder = bot.project.models_dir / JOBS_DIR
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> dict[str, Any]:
        """Start a job and return its first status; ConflictError while another job is running."""
        with self._lock:
            running = self._running()
            if running is not None:
                raise ConflictError(f"retrain job {running} is still running")
            job = {
                "id": uuid.uuid4().hex[:12],
                "status": "running",
                "step": "export",
                "progress": 0.0,
                "epoch": 0,
                "epochs": self.bot.project.settings.train_config().epochs,
                "model_version_before": self.bot.version,
                "model_version": None,
                "reviewed_examples": None,
                "added_examples": None,
                "stories": None,
                "error": None,
                "started_at": _now(),
                "finished_at": None,
                "host": socket.gethostname(),
                "pid": os.getpid(),
            }
            self._save(job)
            self._thread = threading.Thread(target=self._run, args=(job,), name=f"kefu-retrain-{job['id']}")
            self._thread.daemon = True
            self._thread.start()
            return _public(job)

    def status(self, job_id: str) -> dict[str, Any]:
        """A job's status; NotFoundError for an unknown id."""
        job = self._load(job_id)
        if job is None:
            raise NotFoundError(f"unknown retrain job {job_id!r}")
        if job["status"] == "running" and not _alive(job):
            job.update(status="failed", error="the server running this job stopped before it finished")
        return _public(job)

    def wait(self, timeout: float | None = None) -> None:
        """Block until the job started here finishes (for tests and scripts)."""
        if self._thread is not None:
            self._thread.join(timeout)

    # -- the job ------------------------------------------------------------------------------------

    def _run(self, job: dict[str, Any]) -> None:
        bot = self.bot
        candidate = bot.project.models_dir / CANDIDATE_DIR
        try:
            epochs = max(job["epochs"], 1)

            def on_epoch(record: dict) -> None:
                epoch = int(record.get("epoch", 0))
                self._update(job, epoch=epoch, progress=round(0.05 + 0.85 * epoch / epochs, 3))

            # added: labelled since the model answering now was trained; the candidate is a copy of the
            # project with the exported file, removed with it in the end
            with reviewed_for_training(bot.repo, bot.project, _trained_at(bot)) as (total, added):
                self._update(job, step="train", reviewed_examples=total, added_examples=added, progress=0.05)
                _copy_project(bot.project.root, candidate)
            summary = train_project(candidate, progress=False, embedder=bot.given_embedder, on_epoch=on_epoch)
            self._update(job, step="stories", progress=0.9)
            try:
                report = check_candidate(candidate, bot.project.root, embedder=bot.given_embedder)
            except StoriesFailed as failed:
                job["stories"] = failed.report.to_summary()
                raise
            job["stories"] = report.to_summary() if report is not None else None
            self._update(job, step="swap", progress=0.95)
            _install(candidate, bot.project.models_dir)
            knowledge = summary.get("knowledge")
            if knowledge is not None and not knowledge["reused"]:
                version = bot.reload()
            else:
                version = bot.swap_model(nlu_model_dir(bot.project))
            self._update(
                job,
                status="succeeded",
                step="done",
                progress=1.0,
                model_version=version,
                retrained=not summary["nlu"]["reused"],
                finished_at=_now(),
            )
        except (KefuError, OSError, ValueError) as error:
            log.error("retrain job %s failed: %s", job["id"], error)
            self._update(job, status="failed", error=str(error).splitlines()[0], finished_at=_now())
        except Exception as error:
            log.exception("retrain job %s failed", job["id"])
            self._update(job, status="failed", error=f"{type(error).__name__}: {error}", finished_at=_now())
        finally:
            shutil.rmtree(candidate, ignore_errors=True)

    # -- job files ----------------------------------------------------------------------------------

    def _update(self, job: dict[str, Any], **changes: Any) -> None:
        job.update(changes)
        self._save(job)

    def _save(self, job: dict[str, Any]) -> None:
        write_atomic(self.folder / f"{job['id']}.json", json.dumps(job, ensure_ascii=False, indent=1))

    def _load(self, job_id: str) -> dict[str, Any] | None:
        if not job_id.isalnum():
            return None
        try:
            return json.loads((self.folder / f"{job_id}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _running(self) -> str | None:
        """The id of a job some live process is running, if any."""
        if not self.folder.is_dir():
            return None
        for path in self.folder.glob("*.json"):
            job = self._load(path.stem)
            if job is not None and job.get("status") == "running" and _alive(job):
                return job["id"]
        return None


def _copy_project(root: Path, candidate: Path) -> None:
    """Copy the project's files and its trained models (so that what did not change is reused) into
    ``candidate``; its database, secret, jobs and hidden files stay behind."""
    shutil.rmtree(candidate, ignore_errors=True)  # left by a job that was killed
    shutil.copytree(
        root,
        candidate,
        ignore=lambda folder, names: [
            n for n in names if Path(folder) == root and (n == MODELS_DIR or n.startswith((".", "kefu.db")))
        ],
    )
    for part in (NLU_MODEL_DIR, KNOWLEDGE_INDEX_DIR):
        if (root / MODELS_DIR / part).is_dir():
            shutil.copytree(root / MODELS_DIR / part, candidate / MODELS_DIR / part)


def _install(candidate: Path, models: Path) -> None:
    """Replace the project's model and knowledge index with the candidate's, one folder rename each (a
    worker that looks in between fails to reload and tries again at its next check)."""
    for part in (NLU_MODEL_DIR, KNOWLEDGE_INDEX_DIR):
        new, live, old = candidate / MODELS_DIR / part, models / part, models / f"{part}.old"
        shutil.rmtree(old, ignore_errors=True)
        if live.exists():
            live.rename(old)
        if new.is_dir():  # no index when the knowledge folder was deleted
            new.rename(live)
        shutil.rmtree(old, ignore_errors=True)


def _alive(job: dict[str, Any]) -> bool:
    """Whether the process that runs ``job`` still exists (a crashed worker leaves 'running' behind)."""
    if job.get("host") != socket.gethostname():
        return True  # another machine's job: assume it runs, its own status will say when it ends
    try:
        os.kill(int(job["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return True


def _trained_at(bot: Bot) -> datetime | None:
    """When the model answering now was trained (None for a model that does not say)."""
    try:
        return datetime.fromisoformat(bot.engine.model.metrics["trained_at"])
    except (KeyError, TypeError, ValueError):
        return None


def _public(job: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in job.items() if k not in ("host", "pid")}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
