"""Decoding the log buffer: any sequence of entries comes back as written.

Native code writes the entries (see :mod:`evmkiln.builtins.log_entries` for
the layout); the decoder takes a column-at-a-time path when every entry has
one shape and shares a topic when a whole column is equal, so both paths and
both kinds of column are generated here.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from evmkiln.builtins.log_entries import HEADER_BYTES, SIZE_SHIFT, decode_entries, entry_bytes

Log = tuple[tuple[int, ...], bytes]


def _encode(logs: list[Log]) -> bytes:
    out = bytearray()
    for topics, data in logs:
        out += (len(topics) | len(data) << SIZE_SHIFT).to_bytes(HEADER_BYTES, "little")
        for topic in topics:
            out += topic.to_bytes(32, "little")
        padded = (len(data) + 7) & ~7
        out += data + b"\xee" * (padded - len(data))  # padding is never read
        assert len(out) % 8 == 0
    assert len(out) == sum(entry_bytes(len(t), len(d)) for t, d in logs)
    return bytes(out)


WORDS = st.one_of(st.sampled_from([0, 1, 2**255, 2**256 - 1]), st.integers(0, 2**256 - 1))


@st.composite
def uniform_logs(draw: st.DrawFn) -> list[Log]:
    """Entries of one shape; each topic column either fixed or drawn per entry."""
    count = draw(st.integers(0, 4))
    size = draw(st.integers(0, 70))
    entries = draw(st.integers(1, 20))
    fixed = [draw(st.none() | WORDS) for _ in range(count)]
    logs: list[Log] = []
    for _ in range(entries):
        topics = tuple(draw(WORDS) if f is None else f for f in fixed)
        logs.append((topics, draw(st.binary(min_size=size, max_size=size))))
    return logs


MIXED = st.lists(
    st.tuples(st.lists(WORDS, max_size=4).map(tuple), st.binary(max_size=70)), max_size=20
)


@given(uniform_logs())
def test_entries_of_one_shape_decode_as_written(logs: list[Log]) -> None:
    assert decode_entries(_encode(logs)) == logs


@given(MIXED)
def test_entries_of_any_shapes_decode_as_written(logs: list[Log]) -> None:
    assert decode_entries(_encode(logs)) == logs


@given(uniform_logs(), MIXED)
def test_a_uniform_run_then_other_shapes_decode_as_written(
    head: list[Log], tail: list[Log]
) -> None:
    logs = head + tail
    assert decode_entries(_encode(logs)) == logs


def test_a_column_differing_only_in_its_last_byte_is_not_shared() -> None:
    logs: list[Log] = [((5, 7), b"x"), ((5, 7 | 1 << 255), b"y"), ((5, 7), b"z")]
    decoded = decode_entries(_encode(logs))
    assert decoded == logs
