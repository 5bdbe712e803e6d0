"""The model directory: config.json, model.safetensors, tokenizer.json, labels.json, ngrams.json, metrics.json,
and encoder.onnx for a model whose encoder runs on ONNX Runtime (`kefu export`).

No pickles anywhere: weights are safetensors, everything else JSON, so loading a model from elsewhere
cannot run code (nothing in kefu calls `torch.load` or unpickles). Nor can it make kefu read files outside
the model directory: a name that leads out of it (`../x`, an absolute path, a symbolic link to elsewhere)
is refused. `config.json` records the kefu version and a format version; a directory written by a newer
format is refused with a message, not misread.
"""

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from kefu import __version__
from kefu.errors import ArtifactError

FORMAT_VERSION = 1
REQUIRED = ("config.json", "model.safetensors", "tokenizer.json", "labels.json")
OPTIONAL = ("ngrams.json", "metrics.json", "encoder.onnx")


def write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def save_artifact(
    out_dir: str | Path,
    config: dict,
    state: dict[str, torch.Tensor],
    tokenizer_json: str,
    labels: list[str],
    ngrams: dict | None,
    metrics: dict,
    files: dict[str, Path] | None = None,
) -> Path:
    """Write the model beside `out_dir`, then swap it in: a crash never leaves half a model behind.
    `files` are copied in as they are, under their names (an ONNX encoder)."""
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()) and not (out / "config.json").is_file():
        raise ArtifactError(f"{out}: exists and is not a kefu model directory; refusing to overwrite it")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        write_json(tmp / "config.json", {"kefu_version": __version__, "format_version": FORMAT_VERSION, **config})
        save_file({k: v.contiguous() for k, v in state.items()}, str(tmp / "model.safetensors"))
        (tmp / "tokenizer.json").write_text(tokenizer_json, encoding="utf-8")
        write_json(tmp / "labels.json", labels)
        if ngrams is not None:
            write_json(tmp / "ngrams.json", ngrams)
        write_json(tmp / "metrics.json", metrics)
        for name, source in (files or {}).items():
            shutil.copyfile(source, tmp / name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old)
    else:
        tmp.rename(out)
    return out


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ArtifactError(f"{path}: corrupt JSON ({e})") from None


def model_file(model_dir: str | Path, name: str) -> Path:
    """The file ``name`` of a model directory; ArtifactError when it resolves (links followed) to
    anywhere outside the directory."""
    root = Path(model_dir)
    path = root / name
    if not path.resolve().is_relative_to(root.resolve()):
        raise ArtifactError(f"{path}: leads outside the model directory {root}; refusing to read it")
    return path


def read_artifact(model_dir: str | Path) -> dict:
    """Read and check every file; returns config, state, tokenizer path, labels, ngrams, metrics."""
    root = Path(model_dir)
    if not root.is_dir():
        raise ArtifactError(f"{root}: not a model directory")
    files = {name: model_file(root, name) for name in REQUIRED + OPTIONAL}
    missing = [name for name in REQUIRED if not files[name].is_file()]
    if missing:
        raise ArtifactError(f"{root}: incomplete model directory, missing {', '.join(missing)}")
    config = _read_json(files["config.json"])
    if not isinstance(config, dict) or "format_version" not in config:
        raise ArtifactError(f"{files['config.json']}: no format_version; not a kefu model")
    if config.get("onnx") and not files["encoder.onnx"].is_file():
        raise ArtifactError(f"{root}: incomplete model directory, missing encoder.onnx (config.json names it)")
    version = config["format_version"]
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ArtifactError(
            f"{root}: model format {version} is newer than this kefu ({__version__}) reads "
            f"(format {FORMAT_VERSION}); upgrade kefu"
        )
    try:
        state = load_file(str(files["model.safetensors"]))
    except (SafetensorError, OSError, ValueError) as e:
        raise ArtifactError(f"{files['model.safetensors']}: corrupt weights ({e})") from None
    labels = _read_json(files["labels.json"])
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise ArtifactError(f"{files['labels.json']}: expected a list of label strings")
    ngrams = _read_json(files["ngrams.json"]) if files["ngrams.json"].is_file() else None
    metrics = _read_json(files["metrics.json"]) if files["metrics.json"].is_file() else {}
    return {
        "config": config,
        "state": state,
        "tokenizer_path": files["tokenizer.json"],
        "labels": labels,
        "ngrams": ngrams,
        "metrics": metrics,
    }
