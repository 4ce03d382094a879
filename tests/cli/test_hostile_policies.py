"""Files in the policies folder that are not policies: refused by name, never echoed.

A policy problem reaches the terminal, CI logs and the log files; a link planted in the
folder must not turn those into a way of reading ``/etc/shadow``, and a file that is not
a policy must not have its lines printed back as field names or YAML messages.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from retention_pipeline.cli.main import main

SECRET = "root:$y$j9T$Zephyrine.secret.hash.0123456789:19000:0:99999:7:::"


def validate(capsys: pytest.CaptureFixture[str], home: Path) -> tuple[int, str]:
    code = main(["policy", "validate", "--home", str(home)])
    out, err = capsys.readouterr()
    return code, out + err


def test_a_link_out_of_the_policies_folder_is_refused_unread(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "shadow"
    outside.write_text(SECRET + "\ndaemon:*:19000:0:99999:7:::\n")
    link = home / "policies" / "shadow.yaml"
    link.symlink_to(outside)
    code, output = validate(capsys, home)
    assert code == 2
    assert output.strip().splitlines() == [
        f"{link}:1: -: is a link to a file outside its folder; refusing to read it; put the "
        "policy file itself in the folder (a link may only point inside it)"
    ]
    assert "Zephyrine" not in output and str(outside) not in output
    # through a link to a folder outside, or a chain of links: the same
    link.unlink()
    (home / "policies" / "hop.txt").symlink_to(outside)
    link.symlink_to(home / "policies" / "hop.txt")
    code, output = validate(capsys, home)
    assert code == 2 and "is a link to a file outside its folder" in output
    assert "Zephyrine" not in output


def test_a_link_inside_the_folder_is_read(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = home / "policies" / "atelier-dupont.yaml"
    (home / "policies" / "kept").mkdir()
    policy.rename(home / "policies" / "kept" / "atelier.txt")
    policy.symlink_to(Path("kept") / "atelier.txt")
    code, output = validate(capsys, home)
    assert code == 0, output


def test_a_pipe_a_folder_and_a_huge_file_are_refused_without_blocking(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    os.mkfifo(home / "policies" / "pipe.yaml")  # reading it would block for ever
    (home / "policies" / "folder.yaml").mkdir()
    (home / "policies" / "huge.yaml").write_bytes(b"client: x\n" + b"#" * (2 << 20))
    code, output = validate(capsys, home)
    assert code == 2
    assert sorted(output.strip().splitlines()) == sorted([
        f"{home / 'policies' / 'pipe.yaml'}:1: -: is not a regular file; a policy is a plain "
        "YAML text file",
        f"{home / 'policies' / 'folder.yaml'}:1: -: is not a regular file; a policy is a plain "
        "YAML text file",
        f"{home / 'policies' / 'huge.yaml'}:1: -: is larger than 1024 KiB, which no policy is; "
        "put only policy files in the folder, one client each",
    ])  # fmt: skip


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (SECRET + "\n", "is not a client policy"),
        ("DB_PASSWORD=Zephyrine-hunter2\n", "must be a mapping of fields (got a single value)"),
        ("apiVersion: v1\nkind: Secret\ndata: {Zephyrine: aHVudGVy}\n", "is not a client policy"),
        ("client: acme\ntoken: *Zephyrine_secret\n", "found undefined alias <text>"),
        ("client: acme\n  key: [Zephyrine 'secret'\n", "; fix the YAML syntax"),
        (f"client: acme\n{SECRET}: 1\n", "<key>: is not a known field"),
    ],
)
def test_a_file_that_is_not_a_policy_is_never_echoed(
    content: str,
    expected: str,
    home: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (home / "policies" / "notes.yaml").write_text(content)
    code, output = validate(capsys, home)
    assert code == 2
    assert expected in output
    assert "Zephyrine" not in output and "hunter" not in output and "$y$" not in output
