"""The learner's workspace (tools/learner.py, `make lab`): filled once, never overwritten, updates beside it."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import lab as lab_tool  # noqa: E402
import learner  # noqa: E402


def lesson(text: str) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(text), nbformat.v4.new_code_cell("x = 1")]
    return nbformat.writes(nb)


@pytest.fixture
def course(tmp_path) -> Path:
    student = tmp_path / "build" / "student"
    student.mkdir(parents=True)
    (student / "00_start_here.ipynb").write_text(lesson("# 00 v1"))
    (student / "01_next.ipynb").write_text(lesson("# 01 v1"))
    return student


def edit(path: Path, text: str) -> None:
    nb = nbformat.read(path, as_version=4)
    nb.cells[1].source = text
    nbformat.write(nb, path)


def test_first_sync_copies_every_lesson(course, tmp_path):
    ws = tmp_path / "my-notebooks"
    messages = learner.sync(course, ws)
    assert sorted(p.name for p in ws.glob("*.ipynb")) == ["00_start_here.ipynb", "01_next.ipynb"]
    assert (ws / "01_next.ipynb").read_text() == (course / "01_next.ipynb").read_text()
    assert len(messages) == 1 and "copied 2 lesson(s)" in messages[0]
    assert learner.sync(course, ws) == [], "a second sync with nothing new must say nothing"
    assert not (ws / "updates").exists()


def test_learner_edit_survives_a_second_sync(course, tmp_path):
    ws = tmp_path / "my-notebooks"
    learner.sync(course, ws)
    edit(ws / "00_start_here.ipynb", "my_answer = 42")
    mine = (ws / "00_start_here.ipynb").read_bytes()
    assert learner.sync(course, ws) == []
    assert (ws / "00_start_here.ipynb").read_bytes() == mine


def test_course_update_goes_beside_the_learner_copy(course, tmp_path):
    ws = tmp_path / "my-notebooks"
    learner.sync(course, ws)
    edit(ws / "00_start_here.ipynb", "my_answer = 42")
    mine = (ws / "00_start_here.ipynb").read_bytes()
    (course / "00_start_here.ipynb").write_text(lesson("# 00 v2: a fixed typo"))
    messages = learner.sync(course, ws)
    assert (ws / "00_start_here.ipynb").read_bytes() == mine, "the learner's copy was overwritten"
    update = ws / "updates" / "00_start_here.ipynb"
    assert update.read_text() == (course / "00_start_here.ipynb").read_text()
    assert len(messages) == 1
    assert "00_start_here.ipynb changed" in messages[0] and "my-notebooks/updates/00_start_here.ipynb" in messages[0]
    assert "untouched" in messages[0] and "make lab" in messages[0]
    assert learner.sync(course, ws) == messages, "the update is mentioned until it is taken"

    # Taking it: delete (or rename) your copy and sync again.
    (ws / "00_start_here.ipynb").rename(ws / "00_start_here-mine.ipynb")
    messages = learner.sync(course, ws)
    assert (ws / "00_start_here.ipynb").read_text() == (course / "00_start_here.ipynb").read_text()
    assert not update.exists() and "copied 1 lesson(s)" in messages[0]
    assert (ws / "00_start_here-mine.ipynb").read_bytes() == mine
    assert learner.sync(course, ws) == []


def test_an_untouched_copy_also_gets_the_update_beside_it(course, tmp_path):
    ws = tmp_path / "my-notebooks"
    learner.sync(course, ws)
    (course / "01_next.ipynb").write_text(lesson("# 01 v2"))
    before = (ws / "01_next.ipynb").read_bytes()
    assert len(learner.sync(course, ws)) == 1
    assert (ws / "01_next.ipynb").read_bytes() == before, "never overwritten, even when unedited"
    # Copying the update over one's own copy by hand counts as taken.
    (ws / "01_next.ipynb").write_bytes((ws / "updates" / "01_next.ipynb").read_bytes())
    assert learner.sync(course, ws) == []
    assert not (ws / "updates" / "01_next.ipynb").exists()


def test_a_lost_or_broken_manifest_never_costs_the_learner_work(course, tmp_path):
    ws = tmp_path / "my-notebooks"
    learner.sync(course, ws)
    edit(ws / "00_start_here.ipynb", "my_answer = 42")
    mine = (ws / "00_start_here.ipynb").read_bytes()
    (ws / learner.MANIFEST).write_text("{not json")
    messages = learner.sync(course, ws)
    assert (ws / "00_start_here.ipynb").read_bytes() == mine
    assert "00_start_here.ipynb changed" in messages[0], "unknown origin + different content: offer the course's"


def lesson_with_image(title: str) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}\n![a figure](../imgs/fig.png) and "
                                              '<img src="../imgs/b.png"> [web](https://x.org/a) [here](#top)'),
                nbformat.v4.new_code_cell("x = 1  # ](../not/a/link)")]
    return nbformat.writes(nb)


def test_an_update_one_folder_deeper_still_finds_the_images(course, tmp_path):
    ws = tmp_path / "my-notebooks"
    (course / "00_start_here.ipynb").write_text(lesson_with_image("v1"))
    learner.sync(course, ws)
    (course / "00_start_here.ipynb").write_text(lesson_with_image("v2"))
    learner.sync(course, ws)
    update = nbformat.read(ws / "updates" / "00_start_here.ipynb", as_version=4)
    text = update.cells[0].source
    assert "](../../imgs/fig.png)" in text and 'src="../../imgs/b.png"' in text
    assert "(https://x.org/a)" in text and "(#top)" in text, "URLs and anchors are not relative paths"
    assert update.cells[1].source == "x = 1  # ](../not/a/link)", "code cells are left alone"
    # Copying the update over one's own copy by hand still counts as taken.
    (ws / "00_start_here.ipynb").write_bytes((ws / "updates" / "00_start_here.ipynb").read_bytes())
    assert learner.sync(course, ws) == []


def test_the_real_lessons_images_resolve_from_updates(tmp_path):
    updates = ROOT / "my-notebooks" / "updates"
    for path in (ROOT / "notebooks").glob("*.ipynb"):
        moved = json.loads(learner.one_folder_deeper(path.read_bytes()))
        text = "\n".join("".join(c["source"]) for c in moved["cells"] if c["cell_type"] == "markdown")
        refs = re.findall(r"!\[[^\]]*\]\(([^)\s]+)", text) + re.findall(r'<img[^>]*src="([^"]+)"', text)
        for ref in refs:
            assert (updates / ref).resolve().is_file(), f"{path.name}: {ref} would not resolve from updates/"


def test_reset_keeps_the_learners_copy_and_copies_the_course_version(course, tmp_path):
    ws = tmp_path / "my-notebooks"
    learner.sync(course, ws)
    edit(ws / "01_next.ipynb", "my_answer = 42")
    mine = (ws / "01_next.ipynb").read_bytes()
    messages = learner.reset(course, ws, "01", now=0)
    assert (ws / "01_next.ipynb").read_bytes() == (course / "01_next.ipynb").read_bytes()
    backups = list((ws / "backups").glob("01_next-*.ipynb"))
    assert len(backups) == 1 and backups[0].read_bytes() == mine, "the learner's work must be kept"
    assert "backups/" in messages[0] and "afresh" in messages[-1]
    assert learner.sync(course, ws) == [], "after a reset the lesson is the course's version"
    with pytest.raises(ValueError, match="already exists"):
        learner.reset(course, ws, "01_next.ipynb", now=0)  # same second: never overwrite a backup
    assert (ws / "01_next.ipynb").exists()


@pytest.mark.parametrize("name", ["00", "00_start_here", "00_start_here.ipynb", "my-notebooks/00_start_here.ipynb",
                                  "notebooks/00_start"])
def test_reset_finds_a_lesson_by_number_or_name(course, name):
    assert learner.find_lesson(course, name).name == "00_start_here.ipynb"


@pytest.mark.parametrize("name, message", [("0", "several"), ("07", "no lesson"), ("", "no lesson")])
def test_reset_of_an_unknown_lesson_is_a_clear_error(course, name, message):
    with pytest.raises(ValueError, match=f"{message}.*make reset NB=03.*00_start_here, 01_next"):
        learner.find_lesson(course, name)


def test_no_student_build_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="make student"):
        learner.sync(tmp_path / "empty", tmp_path / "ws")


# ------------------------------------------------------------------------------------- through make
def make(*args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS")} | env
    return subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), *args], capture_output=True,
                          text=True, timeout=300, env=environ)


def test_make_workspace_twice_keeps_the_learner_edit(tmp_path):
    """`make lab`'s sync step (make workspace) on the real student build, run twice around an edit."""
    ws = tmp_path / "my-notebooks"
    first = make("workspace", f"LEARNER_DIR={ws}")
    assert first.returncode == 0, first.stderr
    names = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert sorted(p.name for p in ws.glob("*.ipynb")) == names
    edit(ws / "00_start_here.ipynb", "# my own notes\nmy_answer = 42")
    mine = (ws / "00_start_here.ipynb").read_bytes()
    second = make("workspace", f"LEARNER_DIR={ws}")
    assert second.returncode == 0, second.stderr
    assert (ws / "00_start_here.ipynb").read_bytes() == mine
    assert "copied" not in second.stdout


def test_make_test_never_touches_the_workspace():
    """Nothing `make test` runs names the workspace, the test runner collects nothing there, git ignores it."""
    dry = make("-n", "test")
    assert dry.returncode == 0, dry.stderr
    assert "my-notebooks" not in dry.stdout and "learner.py" not in dry.stdout
    config = (ROOT / "pyproject.toml").read_text()
    assert 'testpaths = ["tests"]' in config
    assert re.search(r"^NB\s*\?=\s*notebooks/", (ROOT / "Makefile").read_text(), re.M), "nbval runs notebooks/ only"
    ignored = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", "my-notebooks/00_start_here.ipynb"])
    assert ignored.returncode == 0, "my-notebooks/ must be git-ignored, so `git pull` never meets the learner's files"


def test_make_lab_opens_the_learners_first_lesson_on_loopback():
    dry = make("-n", "lab")
    assert dry.returncode == 0, dry.stderr
    jupyter = [line for line in dry.stdout.replace("\\\n", " ").splitlines() if "jupyter lab" in line]
    assert len(jupyter) == 1, dry.stdout
    assert "--LabApp.default_url=/lab/tree/my-notebooks/00_start_here.ipynb" in jupyter[0]
    assert "--ServerApp.ip=127.0.0.1" in jupyter[0]
    assert "tools/learner.py build/student my-notebooks" in dry.stdout
    authors = make("-n", "lab-authors").stdout
    assert "--LabApp.default_url=/lab/tree/notebooks/00_start_here.ipynb" in authors


def test_workspace_sits_next_to_notebooks_so_image_links_resolve():
    """Notebooks link images as ../imgs/x.png: from my-notebooks/ that is the repository's imgs/."""
    workspace = ROOT / "my-notebooks"
    for path in (ROOT / "notebooks").glob("*.ipynb"):
        text = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"])
        for ref in re.findall(r"!\[[^\]]*\]\(([^)\s]+)", text) + re.findall(r'<img[^>]*src="([^"]+)"', text):
            assert (workspace / ref).resolve().is_file(), f"{path.name}: {ref} would not resolve from my-notebooks/"


# ----------------------------------------------------------------- the messages after JupyterLab's link
def test_the_update_message_is_repeated_below_jupyterlabs_link(course, tmp_path):
    # `make lab`: learner.py writes its messages to a file, tools/lab.py relays the server's log and repeats
    # them right after the token link, where a learner looks (before, ~25 log lines scrolled them away).
    ws, msgs = tmp_path / "my-notebooks", tmp_path / "build" / "learner-messages.txt"
    learner.main([str(course), str(ws)])
    edit(ws / "00_start_here.ipynb", "my_answer = 42")
    (course / "00_start_here.ipynb").write_text(lesson("# 00 v2"))
    assert learner.main([str(course), str(ws), "--messages-file", str(msgs)]) == 0
    assert "00_start_here.ipynb changed" in msgs.read_text()
    # jupyter_server 2's start-up as `make lab` prints it: the link in the log, then again in the closing banner
    banner = ["[I ServerApp] Jupyter Server 2.21.1 is running at:",
              "[I ServerApp] http://127.0.0.1:8888/lab/tree/my-notebooks/00_start_here.ipynb?token=abc",
              "[I ServerApp] Use Control-C to stop this server and shut down all kernels.",
              "[W ServerApp] No web browser found: Error('could not locate runnable browser').",
              "[C ServerApp] ", "    ", "    To access the server, open this file in a browser:",
              "        file:///root/.local/share/jupyter/runtime/jpserver-1-open.html",
              "    Or copy and paste one of these URLs:",
              "        http://127.0.0.1:8888/lab/tree/my-notebooks/00_start_here.ipynb?token=abc",
              "[I ServerApp] later log line"]
    fake_server = f"import sys\nfor line in {banner!r}:\n    print(line, flush=True)\nsys.exit(3)\n"
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "lab.py"), "--messages", str(msgs), "--",
                          sys.executable, "-c", fake_server], capture_output=True, text=True, timeout=60)
    assert run.returncode == 3, run.stderr                         # the server's exit code
    lines = run.stdout.splitlines()
    last_link = max(i for i, line in enumerate(lines) if "127.0.0.1:8888" in line)
    said = next(i for i, line in enumerate(lines) if "00_start_here.ipynb changed" in line)
    assert said > last_link, "the messages must come below the banner's link, not above it"
    assert "later log line" in lines[-1] and run.stdout.count("changed since") == 1


def test_a_server_without_the_closing_banner_still_gets_the_messages():
    """An older or quieter server: the messages come some lines after its first link."""
    out = io.StringIO()
    log = "http://127.0.0.1:1/lab?token=x\n" + "".join(f"log {i}\n" for i in range(lab_tool.FALLBACK_LINES + 5))
    lab_tool.relay([log], ["Course update: 03 changed"], out)
    lines = out.getvalue().splitlines()
    said = lines.index("  - Course update: 03 changed")
    assert lines.index(f"log {lab_tool.FALLBACK_LINES - 1}") < said < lines.index(f"log {lab_tool.FALLBACK_LINES + 4}")


def test_no_messages_no_frame(course, tmp_path):
    ws, msgs = tmp_path / "my-notebooks", tmp_path / "msgs.txt"
    learner.main([str(course), str(ws)])
    learner.main([str(course), str(ws), "--messages-file", str(msgs)])   # nothing new: an empty file
    assert msgs.read_text() == ""
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "lab.py"), "--messages", str(msgs), "--",
                          sys.executable, "-c", "print('http://127.0.0.1:1/lab?token=x')"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout.strip() == "http://127.0.0.1:1/lab?token=x"


def test_lab_wrapper_needs_a_command():
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "lab.py")], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "give the server command after --" in run.stderr
