from pathlib import Path

import pytest

from kefu.errors import ConfigError
from kefu.project.scaffold import init_project, template_files
from kefu.project.validate import validate_project

from .conftest import TEMPLATE


def test_template_files():
    files = template_files()
    for expected in ("kefu.yml", "domain.yml", "data/nlu.yml", "knowledge/faq.csv", ".gitignore", "README.md"):
        assert expected in files
    assert any(name.startswith("knowledge/") and name.endswith(".md") for name in files)


def test_init_copies_the_template(tmp_path: Path):
    root = init_project(tmp_path / "new" / "bot")  # missing parents are created
    assert root == tmp_path / "new" / "bot"
    written = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert written == template_files()
    assert (root / "data" / "nlu.yml").read_bytes() == (TEMPLATE / "data" / "nlu.yml").read_bytes()
    assert "models/" in (root / ".gitignore").read_text(encoding="utf-8")
    assert validate_project(root) == []


def test_init_into_an_empty_existing_folder(tmp_path: Path):
    assert init_project(tmp_path) == tmp_path
    assert (tmp_path / "kefu.yml").is_file()


def test_init_refuses_a_folder_with_files(tmp_path: Path):
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        init_project(tmp_path)
    assert str(error.value) == f"{tmp_path}: folder is not empty; choose a new folder, or use --force to overwrite"
    assert not (tmp_path / "kefu.yml").exists()


def test_force_overwrites_template_files_and_keeps_others(tmp_path: Path):
    init_project(tmp_path)
    (tmp_path / "kefu.yml").write_text("name: changed\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    init_project(tmp_path, force=True)
    assert (tmp_path / "kefu.yml").read_bytes() == (TEMPLATE / "kefu.yml").read_bytes()
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_init_refuses_a_file(tmp_path: Path):
    target = tmp_path / "bot"
    target.write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match="exists and is not a folder"):
        init_project(target, force=True)


def test_a_missing_template_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # what a wheel built without the package data would do
    monkeypatch.setattr("kefu.project.scaffold.template_root", lambda: tmp_path / "nothing")
    with pytest.raises(ConfigError, match="template is missing"):
        init_project(tmp_path / "bot")
