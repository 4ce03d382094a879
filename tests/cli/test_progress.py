"""The progress line: drawn on a terminal only, every phase's first and last report
shown, and the line ended before anything else is printed."""

from __future__ import annotations

import io

import pytest

from retention_pipeline.cli import progress as progress_module
from retention_pipeline.cli.progress import MIB, ProgressLine, progress_shown


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def drawn(screen: str) -> list[str]:
    return [part.rstrip() for part in screen.split("\r") if part.strip()]


def test_a_known_total_shows_a_percentage_and_an_unknown_one_does_not() -> None:
    line = ProgressLine("restore rp-1", Terminal())
    assert line.render("load", 3 * MIB, 4 * MIB, 2.0) == (
        "restore rp-1 load:      3.0 / 4.0 MiB  75% (   1.5 MiB/s)"
    )
    unknown = line.render("read", MIB // 2, None, 0.0)
    assert unknown == "restore rp-1 read:      0.5 MiB (   0.0 MiB/s)"
    assert line.render("check", 0, 0, 1.0).endswith("0.0 / 0.0 MiB 100% (   0.0 MiB/s)")


def test_reports_in_between_are_thinned_but_first_and_last_are_drawn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = iter([10.0, 10.01, 10.02, 10.03, 10.04])
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: next(clock))
    screen = Terminal()
    line = ProgressLine("backup acme", screen)
    line("read", 0, None)  # a new phase: drawn
    line("read", MIB, None)  # 10 ms later: skipped
    line("upload", 0, 2 * MIB)  # a new phase: drawn
    line("upload", MIB, 2 * MIB)  # skipped
    line("upload", 2 * MIB, 2 * MIB)  # the last: drawn
    assert [text.split(":")[0] for text in drawn(screen.getvalue())] == [
        "backup acme read",
        "backup acme upload",
        "backup acme upload",
    ]
    assert "100%" in drawn(screen.getvalue())[-1]


def test_a_shorter_line_covers_the_longer_one_before_it() -> None:
    screen = Terminal()
    line = ProgressLine("x", screen)
    line("download", 5 * MIB, 10 * MIB)
    line("read", 0, None)
    first, second = screen.getvalue().split("\r")[1:]
    assert len(second) == len(first.rstrip())


def test_no_terminal_no_callback_and_not_a_byte_written() -> None:
    logs = io.StringIO()
    with progress_shown("backup acme", logs) as progress:
        assert progress is None
    assert logs.getvalue() == ""


def test_the_line_is_ended_on_an_error_and_only_if_it_was_drawn() -> None:
    screen = Terminal()
    with pytest.raises(RuntimeError), progress_shown("restore rp-1", screen) as progress:
        assert progress is not None
        progress("download", 1, 2)
        raise RuntimeError("boom")
    assert screen.getvalue().endswith("\n")

    untouched = Terminal()
    with progress_shown("restore rp-1", untouched):
        pass
    assert untouched.getvalue() == ""
