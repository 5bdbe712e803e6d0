"""The template's own stories (kefu/project/template/tests/) pass against the template trained as shipped.

It trains the template with its own kefu.yml (under a minute on two cores) and builds its knowledge
index with e5, as `kefu init` + `kefu serve` would: a smaller model would test another bot than the one
a new project gets.
"""

from pathlib import Path

from kefu.project.scaffold import init_project
from kefu.project.training import train_project
from kefu.runtime.stories import project_story_files, run_project_stories
from tests.support.project import one_torch_thread


def test_the_template_passes_its_stories(tmp_path: Path) -> None:
    root = init_project(tmp_path / "shop")
    assert [p.name for p in project_story_files(root)] == ["stories.yml"]
    with one_torch_thread():  # two threads spinning for each other on a busy machine: several times slower
        train_project(root, progress=False)
    report = run_project_stories(root)
    assert report.ok, "\n".join(failure.describe() for failure in report.failures())
    assert len(report.stories()) >= 12
    assert {story.lang for story in report.stories()} == {"zh", "en"}
