"""``train_project``: turn a bot project's files into what the runtime loads.

    models/nlu/         the intent model (a kefu.Model), trained on data/nlu.yml (+ data/reviewed.yml),
                        with a sentiment head when kefu.yml enables one (data/sentiment.csv)
    models/knowledge/   the knowledge base's search index, built from knowledge/

Both are rebuilt only when their inputs changed: the model's ``metrics.json`` records a fingerprint of
the training files and settings, and the knowledge index records its own (see
:func:`kefu.knowledge.compute_fingerprint`). So ``kefu serve`` on an unchanged project starts in seconds.
"""

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kefu import __version__
from kefu.errors import ArtifactError, DataError
from kefu.knowledge import E5Embedder, Embedder, KnowledgeBase, stored_fingerprint
from kefu.nlu.artifact import REQUIRED
from kefu.project.settings import Project, load_project
from kefu.training import Data, train

FORMAT = "kefu-runtime/1"  # bump when what the fingerprint covers changes meaning
NLU_MODEL_DIR = "nlu"
KNOWLEDGE_INDEX_DIR = "knowledge"
REVIEWED_FILE = "data/reviewed.yml"  # labels corrected in the dashboard; never the user's own nlu.yml
FINGERPRINT_KEY = "project_fingerprint"


def nlu_model_dir(project: Project) -> Path:
    return project.models_dir / NLU_MODEL_DIR


def knowledge_index_dir(project: Project) -> Path:
    return project.models_dir / KNOWLEDGE_INDEX_DIR


def reviewed_file(project: Project) -> Path:
    return project.root / REVIEWED_FILE


def training_files(project: Project) -> list[Path]:
    """The data files the intent model learns from: nlu.yml, then reviewed.yml when it exists."""
    files = [project.nlu_data]
    if reviewed_file(project).is_file():
        files.append(reviewed_file(project))
    return files


def nlu_fingerprint(project: Project) -> str:
    """SHA-256 over everything the trained model depends on: data files, training, entity and runtime
    settings."""
    settings = {
        "format": FORMAT,
        "kefu": __version__,
        "train": project.settings.train_config().to_dict(),
        "entities": project.settings.entity_config(),
    }
    if project.settings.nlu.runtime != "torch":  # absent for torch: projects trained before it keep theirs
        settings["runtime"] = project.settings.nlu.runtime
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    sentiment = [project.sentiment_data] if project.sentiment_data is not None else []
    for path in training_files(project) + sentiment:
        if not path.is_file():
            raise DataError(f"{path}: training data not found")
        digest.update(f"\n{path.relative_to(project.root).as_posix()}\n".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def saved_fingerprint(model_dir: Path) -> str | None:
    """The fingerprint recorded with the model in ``model_dir``; None without a complete model."""
    if not all((model_dir / name).is_file() for name in REQUIRED):
        return None
    try:
        metrics = json.loads((model_dir / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return metrics.get(FINGERPRINT_KEY) if isinstance(metrics, dict) else None


def model_version(fingerprint: str | None) -> str:
    """The short name of a model in logs, turns and the API: the start of its fingerprint."""
    return (fingerprint or "unknown")[:12]


def default_embedder(progress: bool = False) -> E5Embedder:
    """The embedder a project's knowledge base is built with unless told otherwise.

    One engine thread: a server has its own worker threads and processes to use the other cores, and
    OpenMP threads that spin-wait on a busy machine cost far more than they save on a short query.
    """
    return E5Embedder(num_threads=1, progress=progress)


def training_data(project: Project) -> Data:
    """The usable examples of the training files (validated together: a reviewed text that contradicts
    nlu.yml is dropped with a warning) and of the sentiment file when kefu.yml enables one."""
    return Data.load(training_files(project), sentiment=project.sentiment_data, sentiment_labels=True)


def train_project(
    project_dir: str | Path,
    progress: bool = True,
    *,
    force: bool = False,
    embedder: Embedder | None = None,
    on_epoch: Callable[[dict], None] | None = None,
) -> dict[str, Any]:
    """Train the intent model and build the knowledge index of a project; return a summary.

    Each part is reused when its inputs are unchanged, unless ``force``. ``embedder`` builds the knowledge
    index (default: multilingual e5); ``on_epoch`` receives the trainer's record after every epoch.
    """
    started = time.perf_counter()
    project = load_project(project_dir)
    nlu = _train_nlu(project, progress, force, on_epoch)
    knowledge = _build_knowledge(project, progress, embedder)
    return {
        "project": str(project.root),
        "name": project.settings.name,
        "nlu": nlu,
        "knowledge": knowledge,
        "seconds": round(time.perf_counter() - started, 2),
    }


def _train_nlu(
    project: Project, progress: bool, force: bool, on_epoch: Callable[[dict], None] | None
) -> dict[str, Any]:
    out = nlu_model_dir(project)
    fingerprint = nlu_fingerprint(project)
    if not force and saved_fingerprint(out) == fingerprint:
        labels = json.loads((out / "labels.json").read_text(encoding="utf-8"))
        return {"dir": str(out), "reused": True, "version": model_version(fingerprint), "labels": labels}
    started = time.perf_counter()
    data = training_data(project)
    model = train(data, project.settings.train_config(), progress=progress, on_epoch=on_epoch)
    model.set_rules(project.settings.entity_config())
    model.metrics[FINGERPRINT_KEY] = fingerprint
    model.metrics["trained_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    model.metrics["training_files"] = [
        p.relative_to(project.root).as_posix() for p in training_files(project)
    ]
    if project.sentiment_data is not None:
        model.metrics["sentiment_file"] = project.sentiment_data.relative_to(project.root).as_posix()
    runtime = project.settings.nlu.runtime
    if runtime == "torch":
        model.save(out)
    else:
        model.export(out, int8=runtime == "int8")
    return {
        "dir": str(out),
        "reused": False,
        "version": model_version(fingerprint),
        "labels": model.labels,
        "examples": len(data.examples),
        "sentiment_examples": len(data.sentiment or []),
        "warnings": [warning.located() for warning in data.warnings],
        "seconds": round(time.perf_counter() - started, 2),
    }


def _build_knowledge(project: Project, progress: bool, embedder: Embedder | None) -> dict[str, Any] | None:
    out = knowledge_index_dir(project)
    if not project.knowledge_dir.is_dir():
        # a knowledge folder that was deleted must not keep answering from its old index
        shutil.rmtree(out, ignore_errors=True)
        return None
    embedder = embedder or default_embedder(progress)
    before = stored_fingerprint(out)
    started = time.perf_counter()
    try:
        kb = KnowledgeBase.from_folder(project.knowledge_dir, embedder, index_dir=out)
    except ArtifactError as error:
        raise ArtifactError(f"{out}: {error}") from None
    return {
        "dir": str(out),
        "reused": before == kb.fingerprint,
        "passages": len(kb.passages),
        "embedder": embedder.name,
        "seconds": round(time.perf_counter() - started, 2),
    }
