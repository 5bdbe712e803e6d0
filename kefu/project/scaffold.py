"""``kefu init DIR``: write a new bot project from the template shipped inside the package.

The template (``kefu/project/template/``) is a complete, working demo: a bilingual online-store
assistant. It is read through :mod:`importlib.resources`, so it works from a wheel as well as from a
source checkout.
"""

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from kefu.errors import ConfigError

TEMPLATE = "template"
# Files whose name in the template differs from their name in a project. Build tools skip dot-files
# when collecting package data, so ".gitignore" is shipped as "gitignore".
RENAMES = {"gitignore": ".gitignore"}


def template_root() -> Traversable:
    """The template folder inside the installed package."""
    return resources.files("kefu.project") / TEMPLATE


def template_files() -> list[str]:
    """Relative paths (``/``-separated, as written into a project) of every template file, sorted."""
    return sorted(relative for relative, _ in _walk(template_root(), ""))


def init_project(path: str | Path, force: bool = False) -> Path:
    """Copy the template into folder ``path`` (created if needed) and return it.

    A folder that already has files is refused, so nothing is overwritten by accident; with ``force``
    the template files are written over whatever is there (other files are left alone).
    """
    root = Path(path)
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root}: exists and is not a folder")
    if root.is_dir() and any(root.iterdir()) and not force:
        raise ConfigError(f"{root}: folder is not empty; choose a new folder, or use --force to overwrite")
    files = list(_walk(template_root(), ""))
    if not files:
        # a wheel built without the package data: better said now than as a broken project
        raise ConfigError("the project template is missing from the kefu installation (reinstall kefu)")
    for relative, source in files:
        target = root / relative
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
        except OSError as error:
            raise ConfigError(f"{target}: cannot write file ({error.strerror or error})") from None
    return root


def _walk(folder: Traversable, prefix: str) -> list[tuple[str, Traversable]]:
    """(project-relative path, template file) for every file under ``folder``."""
    found = []
    for entry in folder.iterdir() if folder.is_dir() else ():
        # bytecode caches and editor droppings are not part of the template
        if entry.name.startswith(".") or entry.name == "__pycache__":
            continue
        name = RENAMES.get(entry.name, entry.name)
        if entry.is_dir():
            found += _walk(entry, f"{prefix}{name}/")
        else:
            found.append((f"{prefix}{name}", entry))
    return found
