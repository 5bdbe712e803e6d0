"""``kefu serve DIR``: train what changed, then run the server with uvicorn."""

import atexit
import errno
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess, multiprocess

from kefu.errors import KefuError
from kefu.project import Project, load_project
from kefu.project.training import nlu_model_dir, train_project
from kefu.runtime import default_database_url, reviewed_for_training
from kefu.runtime.engine import load_domain_for, load_model
from kefu.server.app import ENV_PROJECT, app_from_env, ensure_first_admin
from kefu.server.security import load_secret
from kefu.server.workers import ENV_OWN_METRICS, ENV_SUPERVISOR
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
    database, the signing secret and the model files); they stop when this process does, even when it
    is killed.
    """
    import torch

    torch.set_num_threads(1)
    project = load_project(project_dir)
    root = project.root.resolve()
    # bound before anything else, so a taken port is said at once, and held: no one takes it meanwhile
    sock = listening_socket(host, port)
    try:
        if train:
            _train(root, database_url)
        # what every worker process reads when it builds its app
        os.environ[ENV_PROJECT] = str(root)
        if database_url:
            os.environ[ENV_URL] = database_url
        load_secret(root)  # create the secret file once, before workers race for it
        # proxy_headers off: uvicorn would believe X-Forwarded-For from 127.0.0.1 ($FORWARDED_ALLOW_IPS)
        # before the app sees a request; kefu.yml's server.trusted_proxies alone decides (kefu.server.app)
        config = {"host": host, "port": port, "log_level": log_level, "proxy_headers": False}
        if workers == 1:
            app = app_from_env()
            _print_urls(host, port)
            server = uvicorn.Server(uvicorn.Config(app, **config))
            try:
                server.run(sockets=[sock])
            except KeyboardInterrupt:  # Ctrl-C again while shutting down: no traceback
                pass
            if not server.started:
                sys.exit(1)  # uvicorn has logged why (the app's startup failed)
            return
        # the workers would each fail the same way, and be started again and again: fail once, here
        _check_model(project)
        # the first admin is made here, once, so its password is printed once and not by every worker
        repo = open_repository(database_url or default_database_url(root))
        ensure_first_admin(repo, root)
        repo.store.dispose()
        _metrics_dir()
        os.environ[ENV_SUPERVISOR] = str(os.getpid())
        _print_urls(host, port)
        multiprocess.Process = _Worker  # what uvicorn's supervisor starts
        supervisor = Multiprocess(
            uvicorn.Config(
                "kefu.server.workers:worker_app",
                factory=True,
                workers=workers,
                timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
                **config,
            ),
            sockets=[sock],
        )
        supervisor.run()
        if any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes):
            sys.exit(1)  # the worker has said why
    finally:
        sock.close()


class _Worker(multiprocess.Process):
    """uvicorn's worker process, less the supervisor's copy of the worker's end of their pipe.

    uvicorn keeps that copy open, so a worker that dies while the supervisor waits for its answer to a
    health check is noticed only when the check times out (WORKER_HEALTHCHECK_SECONDS): workers failing
    to start kept the server up for minutes. With the worker's end open only in the worker, its death
    ends the wait at once."""

    def start(self) -> None:
        super().start()  # the worker has its copy now
        self.child_conn.close()


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` as uvicorn binds it; a one-line KefuError when the port is taken."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise KefuError(
                f"port {port} is already in use; choose another with --port (make run PORT={port + 1})"
            ) from None
        raise KefuError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    return sock


def _train(root: Path, database_url: str | None) -> None:
    # the reviews labelled in the dashboard are trained on too, from the database (data/reviewed.yml exists
    # only while a training runs); an unchanged set reuses the model
    repo = open_repository(database_url or default_database_url(root))
    try:
        with reviewed_for_training(repo, load_project(root)):
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


def _check_model(project: Project) -> None:
    """Load the intent model and the domain once, as each worker will (the knowledge index needs its
    embedder, too large to load here only to drop it: a damaged one stops the workers instead)."""
    model, _ = load_model(nlu_model_dir(project))
    load_domain_for(project, model)


def _metrics_dir() -> None:
    """The folder the workers' metrics are added up in, unless $PROMETHEUS_MULTIPROC_DIR names one.
    Removed at exit, or by the orphaned workers when this process is killed."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    metrics_dir = tempfile.mkdtemp(prefix="kefu-metrics-")
    atexit.register(shutil.rmtree, metrics_dir, ignore_errors=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.environ[ENV_OWN_METRICS] = metrics_dir


def _print_urls(host: str, port: int) -> None:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    print(
        f"kefu: chat widget at http://{shown}:{port}/  ·  agent dashboard at http://{shown}:{port}/admin"
        f"  ·  API docs at http://{shown}:{port}/docs",
        file=sys.stderr,
    )
