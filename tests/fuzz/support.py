"""Shared settings and strategies of the fuzz tests (tests/fuzz).

Every decoder and parser that reads bytes an attacker may write (age files, recovery
point plaintext, manifests, certificate bundles, checkpoints, consistency proofs,
evidence rows, policy YAML) is fed random and mutated input here. Each test asserts the
three promises of issue 16: only the module's documented error is raised, nothing hangs
(every example runs in a bounded size), and a mutated valid object is never accepted.

The runs are bounded (``max_examples``) and derandomized, so CI runs the same examples
every time and a failure it finds is reproducible; no deadline, since a loaded CI machine
only runs slower.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    """``original`` with one to three edits (flip, replace, insert, delete, cut); never equal."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["flip", "replace", "insert", "delete", "truncate"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "replace" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete" and data:
            del data[at : at + draw(st.integers(1, 8))]
        else:
            del data[at:]
    if bytes(data) == original:
        data.append(0)
    return bytes(data)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
"""Any JSON value, small."""
