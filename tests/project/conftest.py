from pathlib import Path

import pytest

from kefu.project.scaffold import init_project

TEMPLATE = Path(__file__).resolve().parents[2] / "kefu" / "project" / "template"


def line_of(path: Path, marker: str, after: str | None = None) -> int:
    """1-based line of the only line of ``path`` containing ``marker`` (below the line with ``after``)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = 0
    if after is not None:
        start = next(n for n, line in enumerate(lines) if after in line) + 1
    found = [n for n, line in enumerate(lines[start:], start=start + 1) if marker in line]
    assert found, f"{marker!r} not in {path}"
    if after is None:
        assert len(found) == 1, f"{marker!r} is on lines {found}"
    return found[0]


def edit(path: Path, old: str, new: str) -> None:
    """Replace the only occurrence of ``old`` in ``path``."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fresh copy of the template project, to break in one place."""
    return init_project(tmp_path / "bot")
