"""Policy and settings YAML: any text gives problems (or a policy), never an exception.

Problems are printed: each must be one line that starts with the file name, however
the text is built (control characters, tabs, anchors and aliases, deep nesting).
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from retention_pipeline.domain.documents import parse_yaml
from retention_pipeline.services.policy_check import check_policy_text, check_settings_text
from tests.fuzz.support import FUZZ, mutated
from tests.policy.test_documents import alias_bomb

FILE = "policies/acme-sas.yaml"
POLICY = """\
client: acme-sas
display_name: ACME SAS
source:
  database: {connection: acme_crm}
backup:
  mode: automated
  storage: backups-eu
  schedule: "0 2 * * *"
  retention: {max_age: 35d, keep: {last: 3}}
purpose: Restore after an incident
legal_basis: contract
"""
# YAML's own punctuation, so the text reaches anchors, aliases, tags, flow and block forms
yamlish = st.text(
    alphabet=st.sampled_from([*"ab: -[]{}&*!|>'\"#,?\n\t%@`\\", "\x00"]), max_size=200
)


def assert_problem_lines(problems: list[object]) -> None:
    for problem in problems:
        line = str(problem)
        assert line.startswith(f"{FILE}:") and "\n" not in line, line


@FUZZ
@given(st.one_of(st.text(max_size=300), yamlish))
def test_any_text_is_problems_never_an_exception(text: str) -> None:
    parse_yaml(text, FILE)
    policy, problems = check_policy_text(text, FILE, None)
    assert (policy is None) == bool(problems)
    assert_problem_lines(problems)
    _, settings_problems = check_settings_text(text, FILE)
    assert_problem_lines(settings_problems)


@FUZZ
@given(
    st.one_of(
        mutated(POLICY.encode()),
        mutated(alias_bomb(levels=6).encode()),
    ).map(lambda raw: raw.decode("utf-8", "replace"))
)
def test_a_mutated_policy_or_alias_bomb_is_problems_never_an_exception(text: str) -> None:
    _, problems = check_policy_text(text, FILE, None)
    assert_problem_lines(problems)


def test_the_alias_bomb_of_every_depth_is_one_problem() -> None:
    for levels in range(5, 19):
        [problem] = parse_yaml(alias_bomb(levels), FILE).problems
        assert "expands to more than" in problem.message
