"""``kefu serve DIR``: train what changed, then run the server with uvicorn."""

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

from kefu.project import load_project
from kefu.runtime import default_database_url, reviewed_for_training, train_project
from kefu.server.app import ENV_PROJECT, app_from_env, ensure_first_admin
from kefu.server.security import load_secret
from kefu.store import open_repository
from kefu.store.db import ENV_URL

# A starting worker imports torch and loads the model before it serves: tens of seconds on a busy machine,
# where uvicorn's default health-check timeout (5 s) had it kill and restart the workers over and over.
WORKER_HEALTHCHECK_SECONDS = 120


def serve(
    project_dir: str | Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    *,
    database_url: str | None = None,
    train: bool = True,
    log_level: str = "info",
) -> None:
    """Serve the bot project in ``project_dir`` until interrupted.

    With ``train`` the model and the knowledge index are (re)built first, only if their inputs changed,
    so a second start is fast. ``workers`` > 1 runs that many processes on one port (they share the
    database, the signing secret and the model files).
    """
    import torch
    import uvicorn

    torch.set_num_threads(1)
    project = load_project(project_dir)
    root = project.root.resolve()
    if train:
        # the reviews labelled in the dashboard are trained on too, from the database (data/reviewed.yml
        # exists only while a training runs); an unchanged set reuses the model
        repo = open_repository(database_url or default_database_url(root))
        try:
            with reviewed_for_training(repo, project):
                summary = train_project(root, progress=True)
        finally:
            repo.store.dispose()
        nlu, kb = summary["nlu"], summary["knowledge"]
        state = "unchanged" if nlu["reused"] else f"trained in {nlu.get('seconds', 0):.0f} s"
        print(f"kefu: intent model {nlu['version']} ({state})", file=sys.stderr)
        if kb is not None:
            print(
                f"kefu: knowledge base of {kb['passages']} passages"
                f" ({'unchanged' if kb['reused'] else 'rebuilt'})",
                file=sys.stderr,
            )
    # what every worker process reads when it builds its app
    os.environ[ENV_PROJECT] = str(root)
    if database_url:
        os.environ[ENV_URL] = database_url
    load_secret(root)  # create the secret file once, before workers race for it
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    print(
        f"kefu: chat widget at http://{shown}:{port}/  ·  agent dashboard at http://{shown}:{port}/admin"
        f"  ·  API docs at http://{shown}:{port}/docs",
        file=sys.stderr,
    )
    if workers > 1:
        # the first admin is made here, once, so its password is printed once and not by every worker
        repo = open_repository(database_url or default_database_url(root))
        ensure_first_admin(repo, root)
        repo.store.dispose()
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            metrics_dir = tempfile.mkdtemp(prefix="kefu-metrics-")
            atexit.register(shutil.rmtree, metrics_dir, ignore_errors=True)
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        uvicorn.run(
            "kefu.server.app:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        )
    else:
        uvicorn.run(app_from_env(), host=host, port=port, log_level=log_level)
