"""Build a directory once, atomically, and reuse it afterwards.

The directory is built under a temporary name next to its final place, a marker file is written last,
and only then is it renamed into place. A crash or Ctrl-C therefore never leaves a half-built directory
where a complete one is expected; a directory without its marker (or missing a required file) is treated
as absent and rebuilt.
"""

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

MARKER = "kefu-cache.json"
# A temporary directory older than this is a leftover of a killed build, not one still in progress.
STALE_AFTER_S = 3600


def default_cache_root() -> Path:
    """``$KEFU_CACHE_DIR`` if set, else ``~/.cache/kefu``."""
    env = os.environ.get("KEFU_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "kefu"


def is_complete(target: Path, required: Sequence[str] = ()) -> bool:
    """True if ``target`` was fully built: its marker and every ``required`` file exist."""
    return (target / MARKER).is_file() and all((target / name).is_file() for name in required)


def build_once(
    target: str | Path,
    build: Callable[[Path], dict | None],
    message: str,
    required: Sequence[str] = (),
) -> Path:
    """Return ``target``, first calling ``build(tmp_dir)`` to create it if it is not complete.

    ``message`` is printed to stderr before a build (builds are slow; say why the wait). What ``build``
    returns is stored in the marker file as provenance. Two processes building at once both finish and
    the first rename wins; the loser discards its copy.
    """
    target = Path(target)
    if is_complete(target, required):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(target)
    print(message, file=sys.stderr, flush=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        started = time.perf_counter()
        info = build(tmp) or {}
        info = {**info, "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        info["build_seconds"] = round(time.perf_counter() - started, 2)
        (tmp / MARKER).write_text(json.dumps(info, indent=2) + "\n")
        tmp.chmod(0o755)  # mkdtemp makes it private; the cache holds public weights, shareable by users
        if target.exists() and not is_complete(target, required):
            _discard(target)  # an incomplete directory from an older or damaged build
        try:
            tmp.rename(target)
        except OSError:
            if not is_complete(target, required):
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another process finished first: use its copy
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _discard(path: Path) -> None:
    """Delete a directory by first renaming it away, so a half-deleted copy never sits at ``path``."""
    doomed = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    path.rename(doomed / path.name)
    shutil.rmtree(doomed, ignore_errors=True)


def _remove_stale(target: Path) -> None:
    """Delete temporary directories that killed builds of ``target`` left behind."""
    now = time.time()
    for leftover in target.parent.glob(f".{target.name}.tmp-*"):
        try:
            if now - leftover.stat().st_mtime > STALE_AFTER_S:
                shutil.rmtree(leftover, ignore_errors=True)
        except OSError:
            pass  # removed meanwhile by another process
