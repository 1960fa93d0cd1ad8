"""tools/lab_extras.py: the one installer of the course's JupyterLab additions (make setup, conda, Binder)."""

from __future__ import annotations

import filecmp
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))
import lab_extras  # noqa: E402


def same_tree(a: Path, b: Path) -> bool:
    compared = filecmp.dircmp(a, b)
    if compared.left_only or compared.right_only or compared.diff_files or compared.funny_files:
        return False
    return all(same_tree(a / sub, b / sub) for sub in compared.common_dirs)


def test_installs_the_overrides_and_the_rise_widgets_extension_under_a_prefix(tmp_path):
    written = lab_extras.install_files(tmp_path)
    overrides = tmp_path / "share/jupyter/lab/settings/overrides.json"
    extension = tmp_path / "share/jupyter/labextensions/normcourse-rise-widgets"
    assert written == [overrides, extension]
    assert overrides.read_bytes() == lab_extras.OVERRIDES.read_bytes()
    assert same_tree(extension, lab_extras.RISE_WIDGETS)


def test_running_again_replaces_the_extension_instead_of_merging(tmp_path):
    lab_extras.install_files(tmp_path)
    extension = tmp_path / "share/jupyter/labextensions/normcourse-rise-widgets"
    stale = extension / "static" / "left-over.js"
    stale.write_text("// from an older version of the course")
    (extension / "package.json").write_text("{}")
    lab_extras.install_files(tmp_path)
    assert not stale.exists()
    assert same_tree(extension, lab_extras.RISE_WIDGETS)


def test_a_prefix_that_is_not_a_directory_is_refused(tmp_path):
    with pytest.raises(ValueError, match="prefix .* is not a directory"):
        lab_extras.install_files(tmp_path / "missing")


def test_the_command_line_with_a_prefix_leaves_nbgrader_alone_and_says_what_it_installed(tmp_path):
    result = subprocess.run([sys.executable, str(REPO / "tools/lab_extras.py"), "--prefix", str(tmp_path)],
                            capture_output=True, text=True, check=True)
    assert result.stdout.count("installed ") == 2
    assert (tmp_path / "share/jupyter/lab/settings/overrides.json").exists()


def test_make_setup_binder_and_the_readme_all_use_it():
    # One installer: if one of them copied files by hand it would drift from the others.
    assert re.search(r"\$\(BIN\)/python tools/lab_extras\.py", (REPO / "Makefile").read_text())
    post_build = REPO / "postBuild"
    assert post_build.stat().st_mode & 0o111, "postBuild must be executable for Binder"
    assert "python tools/lab_extras.py" in post_build.read_text()
    assert "python tools/lab_extras.py" in (REPO / "README.md").read_text()


def test_the_course_environment_has_the_current_overrides():
    # (The extension's copy is checked by test_rise_widgets.py.)
    overrides = Path(sys.prefix) / "share/jupyter/lab/settings/overrides.json"
    assert overrides.read_bytes() == lab_extras.OVERRIDES.read_bytes(), "stale overrides: run `make setup`"


def test_the_course_kernel_is_installed_with_the_pinned_numeric_path():
    from course_utils import numeric

    command = lab_extras.kernel_install_command("python")
    assert command[:4] == ["python", "-m", "ipykernel", "install"]
    assert command[command.index("--display-name") + 1] == "Python 3 (NormCourse)"
    pairs = {command[i + 1]: command[i + 2] for i, arg in enumerate(command) if arg == "--env"}
    assert pairs == numeric.pinned_environment()


def test_learner_option_sets_the_start_page_for_a_plain_jupyter_lab(tmp_path):
    import json

    path = lab_extras.write_start_page(tmp_path)
    assert path == tmp_path / "etc/jupyter/jupyter_server_config.d/normcourse-start.json"
    assert json.loads(path.read_text()) == {"ServerApp": {"default_url": "/lab/tree/my-notebooks/00_start_here.ipynb"}}


def test_conda_and_binder_get_the_learner_copy_not_the_solutions():
    assert "python tools/lab_extras.py --learner" in (REPO / "postBuild").read_text()
    readme = (REPO / "README.md").read_text()
    conda = readme[readme.index("## conda"):]
    assert "python tools/lab_extras.py --learner" in conda
    assert "jupyter lab notebooks/" not in conda, "conda users would open the notebooks with solutions"
    env = (REPO / "environment.yml").read_text()
    assert "-c constraints.txt" in env, "conda must hold transitive packages to the same versions as make setup"
    assert "--no-deps" not in env, "the header must not ask for a second install of the course"


def test_a_failed_kernel_install_is_an_error_and_missing_nbgrader_is_not():
    """The three Jupyter commands run at once; only the kernel install must succeed."""
    import subprocess

    import pytest

    with pytest.raises(subprocess.CalledProcessError):
        lab_extras.install_kernel_and_disable_nbgrader("false")  # every command fails: the kernel's counts
