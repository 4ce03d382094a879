"""YAML documents keep their line numbers; problem lines keep their promised shape."""

from __future__ import annotations

from retention_pipeline.domain.documents import Problem, parse_yaml
from retention_pipeline.domain.policy_plan import shown_value
from tests.support.limits import run_limited

TEXT = """\
# comment
backup:
  mode: off
  retention:
    keep: {last: 3}
protection:
  client_recipients:
    - age1one
    - age1two
"""


def test_line_of_gives_the_deepest_existing_node() -> None:
    parsed = parse_yaml(TEXT, "p.yaml")
    assert parsed.problems == []
    assert parsed.line_of(("backup",)) == 2
    assert parsed.line_of(("backup", "retention", "keep", "last")) == 5
    assert parsed.line_of(("backup", "retention", "max_age")) == 4
    assert parsed.line_of(("protection", "client_recipients", 1)) == 9
    assert parsed.line_of(("nowhere", "at", "all")) == 2  # the document starts at line 2


def test_yaml_1_2_booleans_keep_off_as_text() -> None:
    parsed = parse_yaml("a: off\nb: true\nc: 'no'\nd: 2026-01-31\n", "p.yaml")
    assert parsed.data["a"] == "off" and parsed.data["b"] is True and parsed.data["c"] == "no"
    assert str(parsed.data["d"]) == "2026-01-31"


def test_problem_line_format() -> None:
    assert (
        str(Problem("p.yaml", 3, "backup.mode", "is not an accepted value", "'daily'", "use off"))
        == "p.yaml:3: backup.mode: is not an accepted value (got 'daily'); use off"
    )
    assert str(Problem.about("p.yaml", 1, (), "is empty", "add fields")) == (
        "p.yaml:1: -: is empty; add fields"
    )


def test_problem_values_of_personal_fields_and_secrets_are_redacted() -> None:
    cases = [
        (("display_name",), "ACME SAS"),
        (("purpose",), "restore"),
        (("contract", "reference"), "BC-1"),
        (("legal_hold", "reason"), "court"),
        (("source", "database", "url"), "postgresql://db/acme"),
        (("anything",), "https://user:pw@host/"),
        (("anything",), "AGE-SECRET-KEY-1ABC"),
        # a scalar where a section of personal fields belongs, and anything like an address
        (("contract",), "BC Jean Dupont"),
        (("legal_hold",), "Dupont dispute"),
        (("erasure",), "send it to Jean"),
        (("client",), "jean.dupont@example.test"),
    ]
    for path, value in cases:
        assert Problem.about("p.yaml", 1, path, "bad", "fix", value).got == "<redacted>"
    assert Problem.about("p.yaml", 1, ("client",), "bad", "fix", "acme").got == "'acme'"


def test_unsupported_tags_are_problems_not_objects() -> None:
    parsed = parse_yaml("a: !!python/object:os.system x\n", "p.yaml")
    assert [str(p) for p in parsed.problems] == [
        "p.yaml:1: -: unsupported tag tag:yaml.org,2002:python/object:os.system; "
        "remove the tag; only plain YAML values are accepted"
    ]


def test_plans_hide_the_values_of_the_same_personal_fields_as_problem_lines() -> None:
    """One list decides: a legal hold's reason was printed by ``policy apply``'s plan."""
    for path in (
        "legal_hold.reason",
        "display_name",
        "contract.reference",
        "erasure.certificate_to[0]",
        "source.documents.path",
    ):
        assert shown_value(path, "Jeanne Dupont, litige") == "<redacted>"
        assert Problem.about("p.yaml", 1, tuple(path.replace("[0]", "").split(".")), "bad", "fix",
                             "Jeanne Dupont, litige").got == "<redacted>"  # fmt: skip
    assert shown_value("backup.retention.max_age", "35d") == "35d"


def test_a_document_nested_thousands_deep_is_a_problem_not_a_crash() -> None:
    parsed = parse_yaml("a: " + "[" * 5000 + "]" * 5000 + "\n", "p.yaml")
    assert [str(p) for p in parsed.problems] == [
        "p.yaml:1: -: is nested too deeply to be a policy; "
        "fix the YAML syntax (indentation, quotes, a missing ':')"
    ]


def alias_bomb(levels: int = 18) -> str:
    """A policy of 21 lines whose aliases expand to 9**19 strings ("billion laughs")."""
    lines = ["client: acme-sas", 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    lines.append(f"backup: *a{levels}")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_one_problem_at_its_line_within_bounded_memory() -> None:
    """Without the budget this takes all memory: the child is capped at 512 MiB."""
    code = (
        "import sys\n"
        "from retention_pipeline.domain.documents import parse_yaml\n"
        "for problem in parse_yaml(sys.stdin.read(), 'policies/acme-sas.yaml').problems:\n"
        "    print(problem)\n"
    )
    child = run_limited(code, stdin=alias_bomb(), memory_mib=512)
    assert child.returncode == 0, child.stderr[-2000:]
    assert child.stdout.splitlines() == [
        "policies/acme-sas.yaml:7: -: this alias expands to more than 100000 values or "
        "10000000 characters, more than any policy holds (nested aliases); write the values "
        "out instead of nesting aliases"
    ]


def test_the_alias_budget_counts_characters_too() -> None:
    text = "a: &a '" + "x" * 1_000_000 + "'\nb: [" + ", ".join(["*a"] * 11) + "]\n"
    [problem] = parse_yaml(text, "p.yaml").problems
    assert problem.line == 2 and "10000000 characters" in problem.message


def test_an_alias_that_contains_itself_is_a_problem_not_a_crash() -> None:
    parsed = parse_yaml("client: x\nkeep: &k\n  - 1\n  - *k\n", "p.yaml")
    assert parsed.data is None
    assert [str(p) for p in parsed.problems] == [
        "p.yaml:4: -: this alias refers to a value that contains it; write the values out "
        "instead of nesting aliases"
    ]


def test_plain_aliases_still_work_and_point_at_their_own_line() -> None:
    parsed = parse_yaml("base: &b {max_age: 35d}\nother:\n  retention: *b\n*b : 1\n", "p.yaml")
    assert parsed.problems == []
    assert parsed.data["other"] == {"retention": {"max_age": "35d"}}
    assert parsed.line_of(("other", "retention")) == 3
