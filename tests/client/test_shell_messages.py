"""What `vm-api ws shell` does with the server's text frames (control messages)."""

from __future__ import annotations

import pytest

from client.shell import _control, exit_code_of


def test_an_error_message_is_said_on_stderr_not_on_the_screen(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _control('{"type": "error", "error": "the workspace stopped"}')
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "vm-api ws shell: the workspace stopped" in captured.err


@pytest.mark.parametrize("frame", ['{"type": "exit", "exit_code": 0}', "not json", "[1, 2]"])
def test_other_text_frames_print_nothing(frame: str, capsys: pytest.CaptureFixture[str]) -> None:
    _control(frame)
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize(
    ("reason", "code"), [('{"exit_code": 3}', 3), ('{"exit_code": null}', 1), ("", 1), ("x", 1)]
)
def test_the_exit_code_comes_from_the_close_reason(reason: str, code: int) -> None:
    assert exit_code_of(reason) == code
