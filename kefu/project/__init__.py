"""Bot projects: a folder with ``kefu.yml``, ``data/nlu.yml``, ``domain.yml`` and ``knowledge/``.

:func:`init_project` writes one from the bundled demo (``kefu init DIR``), :func:`validate_project` lists
its problems (``kefu validate DIR`` prints each as a ``file:LINE: message`` line) and :func:`load_project`
reads its settings for training and serving.
"""

from kefu.project.scaffold import init_project, template_files
from kefu.project.settings import Project, ProjectSettings, load_project, load_settings, read_settings
from kefu.project.validate import validate_project

__all__ = [
    "Project",
    "ProjectSettings",
    "init_project",
    "load_project",
    "load_settings",
    "read_settings",
    "template_files",
    "validate_project",
]
