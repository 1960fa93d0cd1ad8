"""tools/offline_probe.py, the check `make offline-check` trusts before anything passes offline: it says "cut"
only when both the name and the address failed with network errors."""

from __future__ import annotations

import socket
import sys
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import offline_probe  # noqa: E402


class _Open:
    def close(self) -> None:
        pass


def _unreachable(*args, **kwargs):
    raise OSError(101, "Network is unreachable")


@pytest.fixture
def no_network(monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", _unreachable)
    monkeypatch.setattr(socket, "create_connection", _unreachable)
    return monkeypatch


def test_cut_only_when_name_and_address_both_fail(no_network, capsys):
    assert offline_probe.main(["https://registry.npmjs.org/"]) == 0
    assert capsys.readouterr().out.strip() == "cut"


@pytest.mark.parametrize("opens", ["url", "address"])
def test_either_one_answering_is_reachable(no_network, capsys, opens):
    target = (urllib.request, "urlopen") if opens == "url" else (socket, "create_connection")
    no_network.setattr(*target, lambda *a, **k: _Open())
    offline_probe.main(["https://registry.npmjs.org/"])
    assert capsys.readouterr().out.startswith("reachable: ")


def test_a_broken_probe_never_says_cut(no_network, capsys):
    # the shell probe it replaced took its own syntax error for an unreachable network
    no_network.setattr(urllib.request, "urlopen", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        offline_probe.main(["https://registry.npmjs.org/"])
    assert "cut" not in capsys.readouterr().out
