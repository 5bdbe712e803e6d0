"""`kefu serve` as a user runs it, in real processes: a port already taken, a broken model with several
workers, and workers that must not outlive their supervisor."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from kefu.cli import app
from kefu.server.serve import _Worker, listening_socket
from tests.support.project import project_copy

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_taken(port: int) -> bool:
    with closing(socket.socket()) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def session_members(session: int) -> list[int]:
    """The processes of a session (the one ``start_new_session`` made for the server)."""
    members = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
        except (OSError, ValueError):
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (command)": state ppid pgrp session ...
        if entry.name.isdigit() and int(fields[3]) == session and fields[0] != "Z":
            members.append(int(entry.name))
    return members


@contextmanager
def kefu_serve(project: Path, *arguments: str, tmp: Path) -> Iterator[subprocess.Popen]:
    """``python -m kefu serve project --no-train ...`` in a session of its own; everything left of it is
    killed at the end."""
    env = os.environ | {"TMPDIR": str(tmp), "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "kefu", "serve", str(project), "--no-train", *arguments]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        yield process
    finally:
        for pid in session_members(process.pid):
            os.kill(pid, signal.SIGKILL)
        process.communicate(timeout=10)


@pytest.fixture
def served_project(tiny_project: Path, tmp_path: Path) -> Path:
    """The tiny project without its knowledge index: a server process of its own would need the tests'
    embedder for it."""
    project = project_copy(tiny_project, tmp_path / "shop")
    for index in (project / "models").glob("knowledge*"):
        for file in index.iterdir():
            file.unlink()
        index.rmdir()
    return project


def test_a_port_in_use_is_one_line_naming_it_and_how_to_choose_another(served_project: Path) -> None:
    with closing(socket.socket()) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # in this process: it ends before anything is served
        result = CliRunner().invoke(app, ["serve", str(served_project), "--port", str(port), "--no-train"])
    assert result.exit_code == 1
    message = f"port {port} is already in use; choose another with --port (make run PORT={port + 1})"
    assert result.stderr.strip() == f"error: {message}"  # and no URLs printed before it


def test_a_broken_model_with_two_workers_is_one_line_before_any_worker_starts(served_project: Path) -> None:
    (served_project / "models" / "nlu" / "model.safetensors").write_bytes(b"not a model")
    # in this process: the supervisor checks the model before it starts anything
    arguments = ["serve", str(served_project), "--workers", "2", "--port", str(free_port()), "--no-train"]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error: "), result.stderr
    assert "model.safetensors" in result.stderr and "Traceback" not in result.stderr


def test_workers_that_fail_to_start_stop_the_server_instead_of_restarting(
    served_project: Path, tmp_path: Path
) -> None:
    # the model is fine, so the supervisor starts the workers; the knowledge index each loads is not
    index = served_project / "models" / "knowledge"
    index.mkdir()
    (index / "kb.json").write_text("{broken", encoding="utf-8")
    started = time.monotonic()
    with kefu_serve(served_project, "--workers", "2", "--port", str(free_port()), tmp=tmp_path) as process:
        _, stderr = process.communicate(timeout=90)
    assert process.returncode == 1 and time.monotonic() - started < 90
    assert "error: " in stderr and "damaged knowledge index" in stderr and "Traceback" not in stderr
    assert stderr.count("damaged knowledge index") <= 2  # once per worker at most: no restarts
    assert not list(tmp_path.glob("kefu-metrics-*"))


def test_workers_exit_with_their_supervisor_and_take_the_metrics_folder_along(
    served_project: Path, tmp_path: Path
) -> None:
    port = free_port()
    with kefu_serve(served_project, "--workers", "2", "--port", str(port), tmp=tmp_path) as supervisor:
        deadline = time.monotonic() + 90
        while True:
            assert supervisor.poll() is None, supervisor.communicate()[1]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.3)
        [metrics] = tmp_path.glob("kefu-metrics-*")
        workers = [pid for pid in session_members(supervisor.pid) if pid != supervisor.pid]
        assert len(workers) >= 2
        supervisor.kill()
        supervisor.wait(5)
        deadline = time.monotonic() + 15
        while session_members(supervisor.pid) or port_taken(port) or metrics.exists():
            assert time.monotonic() < deadline, (session_members(supervisor.pid), port_taken(port), metrics)
            time.sleep(0.2)


async def nothing_app(scope, receive, send) -> None:  # what the worker below would serve
    raise NotImplementedError


def test_the_supervisor_notices_at_once_a_worker_that_dies_during_its_health_check() -> None:
    config = uvicorn.Config(f"{__name__}:nothing_app", log_level="warning")
    with closing(listening_socket("127.0.0.1", 0)) as sock:
        worker = _Worker(config, [sock])
        worker.start()
        try:
            assert worker.ping(timeout=60)
            os.kill(worker.pid, signal.SIGSTOP)  # it cannot answer the next check
            while Path(f"/proc/{worker.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "T":
                time.sleep(0.01)
            threading.Timer(0.5, os.kill, (worker.pid, signal.SIGKILL)).start()
            started = time.monotonic()
            assert not worker.ping(timeout=60)
            assert time.monotonic() - started < 10  # not the check's whole timeout
        finally:
            worker.kill()
            worker.join()
