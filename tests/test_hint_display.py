"""A check's hint shows as feedback in a kernel (no red traceback box), and the cell still fails."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def kernel():
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3")
    yield client
    client.stop_channels()
    manager.shutdown_kernel(now=True)


def run(client, code: str) -> tuple[dict, list[dict]]:
    msg_id = client.execute(code)
    reply = client.get_shell_msg(timeout=60)
    while reply["parent_header"].get("msg_id") != msg_id:  # e.g. the kernel_info reply of the start
        reply = client.get_shell_msg(timeout=60)
    outputs = []
    while True:
        msg = client.get_iopub_msg(timeout=60)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return reply["content"], outputs
        if msg["msg_type"] in ("error", "display_data", "stream", "execute_result"):
            outputs.append({"type": msg["msg_type"], **msg["content"]})


def test_a_hint_is_feedback_and_the_cell_still_fails(kernel):
    run(kernel, "from course_utils.exercises import show_hints_briefly, require, call_learner\nshow_hints_briefly()")
    reply, outputs = run(kernel, "require(False, 'the mean is taken over the wrong axis')")
    assert reply["status"] == "error" and reply["ename"] == "ExerciseError", "Run All must still stop here"
    assert [o["type"] for o in outputs] == ["display_data"], f"no red error output expected: {outputs}"
    shown = outputs[0]
    assert shown["data"]["text/plain"] == "Not yet. Hint: the mean is taken over the wrong axis"
    assert "the mean is taken over the wrong axis" in shown["data"]["text/html"]
    assert shown["metadata"]["normcourse"]["exercise"]["ename"] == "ExerciseError"


def test_not_done_yet_reads_as_itself_and_other_errors_stay_tracebacks(kernel):
    reply, outputs = run(kernel, "def f():\n    raise NotImplementedError()\ncall_learner(f)")
    assert reply["status"] == "error" and outputs[0]["data"]["text/plain"].startswith("Not done yet: f still")
    reply, outputs = run(kernel, "1 / 0")
    assert [o["type"] for o in outputs] == ["error"], "a real bug keeps its traceback"
