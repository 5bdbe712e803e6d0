"""Bot projects: a folder with ``kefu.yml``, ``data/nlu.yml``, ``domain.yml`` and ``knowledge/``.

:func:`init_project` writes one from the bundled demo (``kefu init DIR``), :func:`validate_project` lists
its problems as ``file:LINE: message`` lines (``kefu validate DIR``) and :func:`load_project` reads its
settings for training and serving.
"""

from kefu.project.scaffold import init_project, template_files
from kefu.project.settings import Project, ProjectSettings, load_project, load_settings, read_settings
from kefu.project.validate import errors_only, is_warning, validate_project

__all__ = [
    "Project",
    "ProjectSettings",
    "errors_only",
    "init_project",
    "is_warning",
    "load_project",
    "load_settings",
    "read_settings",
    "template_files",
    "validate_project",
]
