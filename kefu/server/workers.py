"""What each process of ``kefu serve --workers N`` runs first: a watch on its supervisor, then the app.

uvicorn's supervisor starts the workers and restarts one that dies, but a worker does not notice when
the supervisor itself is killed (``kill -9``, the OOM killer): it would go on serving, an orphan holding
the port, its metrics folder never removed. A worker that fails to build its app exits with uvicorn's
startup-failure code, which stops the supervisor instead of having it start the worker again and again.
"""

import logging
import os
import shutil
import signal
import sys
import threading
import time

from fastapi import FastAPI
from uvicorn.config import STARTUP_FAILURE

from kefu.errors import KefuError
from kefu.server.app import app_from_env

log = logging.getLogger("kefu.server")

ENV_SUPERVISOR = "KEFU_SUPERVISOR_PID"  # the process that started the workers
ENV_OWN_METRICS = "KEFU_SERVE_METRICS_DIR"  # the metrics folder `kefu serve` made (and so may remove)
PARENT_CHECK_SECONDS = 0.5


def worker_app() -> FastAPI:
    """The app factory uvicorn's worker processes call."""
    supervisor = os.environ.get(ENV_SUPERVISOR)
    if supervisor:
        threading.Thread(
            target=_exit_when_orphaned, args=(int(supervisor),), name="kefu-supervisor-watch", daemon=True
        ).start()
    try:
        return app_from_env()
    except KefuError as error:  # the line `kefu serve` with one worker shows
        print(f"error: {error}", file=sys.stderr, flush=True)
    except Exception:  # a bug: its traceback, once, rather than a restart loop
        log.exception("the server worker failed to start")
    sys.stderr.flush()
    # at once, without the interpreter's shutdown: it has nothing to save, and the supervisor notices a
    # worker that is still winding down only when its health check times out (two minutes)
    os._exit(STARTUP_FAILURE)


def _exit_when_orphaned(supervisor: int) -> None:
    # Polling the parent id works everywhere (Linux's PR_SET_PDEATHSIG does not), and also catches a
    # supervisor that died before this thread started.
    while os.getppid() == supervisor:
        time.sleep(PARENT_CHECK_SECONDS)
    log.warning("the supervisor process %d is gone: this worker stops", supervisor)
    metrics = os.environ.get(ENV_OWN_METRICS)
    if metrics:  # every orphan tries; the folder is gone once the first one has removed it
        shutil.rmtree(metrics, ignore_errors=True)
    os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's graceful shutdown: requests under way are answered
