"""Repeated SSTOREs and SLOADs of few slots, with children in between, against py-evm.

Both native backends price a write to a slot whose original value they know
in generated code (EIP-2200/3529), hold the value back from py-evm and tell
it before a child runs and when the frame ends.  Whatever the sequence --
clean and dirty slots, writes back to the original, zeroing and un-zeroing,
reads of written slots, a DELEGATECALL child reading and writing the
parent's storage, running out of gas anywhere -- gas, refunds, output and the
state root must be py-evm's.
"""

from __future__ import annotations

import pytest
from eth.vm.forks.cancun import CancunVM
from hypothesis import example, given, settings
from hypothesis import strategies as st

from evmkiln.builtins.host import KEPT_ENTRIES_LIMIT
from evmkiln.context import make_vm_class
from evmkiln.fuzz.execute import CONTRACT_A, CONTRACT_B, CONTRACT_C, execute

SLOTS = (0, 1, 2)
VALUES = (0, 1, 2)

# The child (run by DELEGATECALL on the parent's storage): slot 2 := slot 0 + slot 1.
CHILD = bytes.fromhex("6001546000540160025500")
# The transient child (DELEGATECALL too): transient slot 2 := transient slot 0 + slot 1;
# it reverts when transient slot 1 holds 2 (its write is then undone).
TRANSIENT_CHILD = bytes.fromhex("60015c60005c0160025d" + "60015c600214601457" + "00" + "5b5f5ffd")

CONTRACT_D = bytes.fromhex("dd" * 20)
# Another account, called: it writes its own slot 0 and transient slot 0.
OTHER = bytes.fromhex("6009600055" + "600960005d" + "00")
# What the parent does when called again with call data (a re-entrant call): it writes
# its own slot 0 and transient slot 1, and stops.  Without call data it runs ``program``.
REENTERED = bytes.fromhex("6007600055" + "600760015d" + "00")
ENTRY = bytes.fromhex("3615610011" + "57") + REENTERED + b"\x5b"
"""``if CALLDATASIZE: REENTERED`` ahead of the program (its JUMPDEST at offset 17)."""
assert len(ENTRY) == 18

CALLS = ("child", "tchild", "other", "static_other", "reenter")
Op = tuple[str, int, int]
ops = st.lists(
    st.one_of(
        st.tuples(st.just("store"), st.sampled_from(SLOTS), st.sampled_from(VALUES)),
        st.tuples(st.just("load"), st.sampled_from(SLOTS), st.just(0)),
        st.tuples(st.sampled_from(CALLS), st.just(0), st.just(0)),
        st.tuples(st.just("tstore"), st.sampled_from(SLOTS), st.sampled_from(VALUES)),
        st.tuples(st.just("tload"), st.sampled_from(SLOTS), st.just(0)),
    ),
    min_size=1,
    max_size=24,
)


def program(sequence: list[Op]) -> bytes:
    """The ops in order; every loaded value is stored to memory, and memory is returned."""
    code = ""
    loads = 0
    for kind, slot, value in sequence:
        if kind == "store":
            code += f"60{value:02x}60{slot:02x}55"
        elif kind == "load":
            code += f"60{slot:02x}5461{32 * loads:04x}52"
            loads += 1
        elif kind == "tstore":
            code += f"60{value:02x}60{slot:02x}5d"
        elif kind == "tload":
            code += f"60{slot:02x}5c61{32 * loads:04x}52"
            loads += 1
        elif kind == "other":  # CALL(gas, D, 0, 0, 0, 0, 0); POP
            code += "5f5f5f5f5f73" + CONTRACT_D.hex() + "5af150"
        elif kind == "static_other":  # STATICCALL(gas, D, 0, 0, 0, 0); POP: D's write halts
            code += "5f5f5f5f73" + CONTRACT_D.hex() + "5afa50"
        elif kind == "reenter":  # CALL(gas, A, 0, 0, 1, 0, 0); POP: one byte of call data
            code += "5f5f60015f5f73" + CONTRACT_A.hex() + "5af150"
        else:  # DELEGATECALL(gas, B or C, 0, 0, 0, 0); POP
            child = CONTRACT_B if kind == "child" else CONTRACT_C
            code += "5f5f5f5f73" + child.hex() + "5af450"
    return ENTRY + bytes.fromhex(code + f"61{32 * loads:04x}5ff3")


ORIGINALS = st.fixed_dictionaries({slot: st.sampled_from(VALUES) for slot in SLOTS})


@pytest.mark.parametrize("backend", ["llvm", "wasm", "ir"])
@settings(max_examples=60, deadline=None)
@given(sequence=ops, originals=ORIGINALS, gas=st.sampled_from([60_000, 200_000, 1_000_000]))
# A dirty slot cleared and restored (refunds both ways), and one read by a child.
@example([("store", 0, 0), ("store", 0, 2), ("store", 0, 1)], {0: 1, 1: 0, 2: 0}, 200_000)
@example(
    [("store", 0, 2), ("store", 0, 1), ("child", 0, 0), ("load", 2, 0)], {0: 0, 1: 1, 2: 0}, 200_000
)
# Storage and transient slot 0 side by side; a transient child that sees held-back values
# and one that reverts its write.
@example(
    [
        *[("store", 0, 1), ("tstore", 0, 2), ("load", 0, 0), ("tload", 0, 0), ("tstore", 1, 1)],
        *[("tchild", 0, 0), ("tload", 2, 0), ("tstore", 1, 2), ("tchild", 0, 0), ("tload", 2, 0)],
    ],
    {0: 0, 1: 0, 2: 0},
    1_000_000,
)
# Slots read and written around a call elsewhere (the table is kept) and around a
# re-entrant call and a DELEGATECALL (it is not).
@example(
    [
        *[("load", 0, 0), ("store", 1, 2), ("tstore", 1, 1), ("other", 0, 0), ("load", 0, 0)],
        *[("store", 1, 0), ("tload", 1, 0), ("reenter", 0, 0), ("load", 0, 0), ("tload", 1, 0)],
        *[("store", 0, 2), ("child", 0, 0), ("load", 2, 0), ("static_other", 0, 0)],
        ("store", 0, 1),
    ],
    {0: 1, 1: 1, 2: 0},
    1_000_000,
)
def test_storage_sequences_match_pyevm(
    backend: str, sequence: list[Op], originals: dict[int, int], gas: int
) -> None:
    codes = {
        CONTRACT_A: program(sequence),
        CONTRACT_B: CHILD,
        CONTRACT_C: TRANSIENT_CHILD,
        CONTRACT_D: OTHER,
    }
    storage = {CONTRACT_A: {slot: v for slot, v in originals.items() if v}}
    expected = execute(CancunVM, codes, storage=storage, gas=gas)
    vm_class = make_vm_class(backend=backend, interpret_on_compile_error=False, fork="cancun")
    assert execute(vm_class, codes, storage=storage, gas=gas) == expected


@pytest.mark.parametrize("backend", ["llvm", "wasm", "ir"])
def test_the_sentry_halts_a_repeated_write_like_pyevm(backend: str) -> None:
    """SSTORE(0, 1) twice, then with ever less gas left: EIP-2200's 2,300-gas sentry."""
    code = bytes.fromhex("6001600055" * 2 + "5b" + "6002600055" * 30 + "00")
    codes = {CONTRACT_A: code}
    vm_class = make_vm_class(backend=backend, interpret_on_compile_error=False, fork="cancun")
    endings = set()
    for gas in range(21_000 + 22_300, 21_000 + 22_300 + 6_000, 250):
        expected = execute(CancunVM, codes, gas=gas)
        assert execute(vm_class, codes, gas=gas) == expected, gas
        endings.add(expected.success)
    assert endings == {True, False}


@pytest.mark.parametrize("backend", ["llvm", "wasm"])
def test_repeated_writes_reach_the_host_once_more_each(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forty writes to one slot: the first through the builtin, the rest priced natively.

    The host hears of the slot twice: the builtin's write, then the last value
    when the frame ends.  A child frame in between must see the held value, so
    the write-back comes before it (the DELEGATECALL child copies slot 0 + 1).
    """
    from evmkiln.context.pyevm_host import PyEvmHost

    writes: list[tuple[int, int]] = []
    original = PyEvmHost.set_storage

    def counting(self: PyEvmHost, address: bytes, slot: int, value: int) -> None:
        if address == CONTRACT_A:
            writes.append((slot, value))
        original(self, address, slot, value)

    monkeypatch.setattr(PyEvmHost, "set_storage", counting)
    sequence: list[Op] = [("store", 0, 1 + i % 2) for i in range(40)]
    sequence += [("child", 0, 0), ("load", 2, 0)]
    codes = {CONTRACT_A: program(sequence), CONTRACT_B: CHILD}
    expected = execute(CancunVM, codes)
    vm_class = make_vm_class(backend=backend, interpret_on_compile_error=False, fork="cancun")
    assert execute(vm_class, codes) == expected
    assert expected.success
    assert [w for w in writes if w[0] == 0] == [(0, 1), (0, 2)]


@pytest.mark.parametrize("backend", ["llvm", "wasm"])
def test_a_read_modify_write_crosses_only_for_its_read(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SLOAD(0), SSTORE(0, 2), then SSTORE(1, 1) and SSTORE(1, 3).

    The SLOAD crossing enters slot 0 with its original value, so the write to
    it is priced in generated code: only the SLOAD asks the host about slot 0
    (an SSTORE crossing would ask again), and the value reaches the host once,
    when the frame ends.  Slot 1, never read, crosses for its first write only.
    """
    from evmkiln.context.pyevm_host import PyEvmHost

    accesses: list[int] = []
    writes: list[tuple[int, int]] = []
    access, write, load = PyEvmHost.access_storage, PyEvmHost.set_storage, PyEvmHost.load_slot

    def counting_access(self: PyEvmHost, address: bytes, slot: int) -> bool:
        accesses.append(slot)
        return access(self, address, slot)

    def counting_load(self: PyEvmHost, address: bytes, slot: int) -> tuple[bool, int, int]:
        accesses.append(slot)
        return load(self, address, slot)

    def counting_write(self: PyEvmHost, address: bytes, slot: int, value: int) -> None:
        writes.append((slot, value))
        write(self, address, slot, value)

    monkeypatch.setattr(PyEvmHost, "access_storage", counting_access)
    monkeypatch.setattr(PyEvmHost, "set_storage", counting_write)
    monkeypatch.setattr(PyEvmHost, "load_slot", counting_load)
    code = bytes.fromhex("60005450" + "6002600055" + "6001600155" + "6003600155" + "00")
    codes = {CONTRACT_A: code}
    storage = {CONTRACT_A: {0: 7}}
    expected = execute(CancunVM, codes, storage=storage)
    vm_class = make_vm_class(backend=backend, interpret_on_compile_error=False, fork="cancun")
    assert execute(vm_class, codes, storage=storage) == expected
    assert expected.success
    assert accesses == [0, 1]
    assert sorted(writes) == [(0, 2), (1, 1), (1, 3)]


class _CountingState:
    """The one state method a host's storage reads use, counting committed reads."""

    def __init__(self) -> None:
        self.committed_reads = 0

    def get_storage(self, address: bytes, slot: int, from_journal: bool = True) -> int:
        if not from_journal:
            self.committed_reads += 1
        return slot + 100


class _Computation:
    def __init__(self) -> None:
        self.state = _CountingState()
        self.transaction_context = None

    def add_log_entry(self, *args: object) -> None:
        raise AssertionError("no logs here")


def test_the_host_reads_an_original_value_once_per_frame() -> None:
    """Every storage crossing asks for the slot's original value; the state is read once."""
    from evmkiln.context.pyevm_host import PyEvmHost

    computation = _Computation()
    host = PyEvmHost(computation)
    for _ in range(3):
        assert host.get_original_storage(CONTRACT_A, 5) == 105
    assert host.get_original_storage(CONTRACT_B, 5) == 105
    assert computation.state.committed_reads == 2


@pytest.mark.parametrize("backend", ["llvm", "wasm"])
def test_transient_slots_this_frame_touched_stay_in_native_code(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TSTORE(0, 1), TLOAD(0), TSTORE(0, 2), TSTORE(0, 3), TLOAD(0), TLOAD(5).

    Only the first TSTORE and the TLOAD of the slot never touched cross; the
    host hears the last value of slot 0 when the frame ends.
    """
    from evmkiln.context.pyevm_host import PyEvmHost

    reads: list[int] = []
    writes: list[tuple[int, int]] = []
    get, put = PyEvmHost.get_transient, PyEvmHost.set_transient

    def counting_get(self: PyEvmHost, address: bytes, slot: int) -> int:
        reads.append(slot)
        return get(self, address, slot)

    def counting_put(self: PyEvmHost, address: bytes, slot: int, value: int) -> None:
        writes.append((slot, value))
        put(self, address, slot, value)

    monkeypatch.setattr(PyEvmHost, "get_transient", counting_get)
    monkeypatch.setattr(PyEvmHost, "set_transient", counting_put)
    sequence: list[Op] = [("tstore", 0, 1), ("tload", 0, 0), ("tstore", 0, 2)]
    sequence += [("tstore", 0, 3), ("tload", 0, 0), ("tload", 5, 0)]
    codes = {CONTRACT_A: program(sequence)}
    expected = execute(CancunVM, codes)
    vm_class = make_vm_class(backend=backend, interpret_on_compile_error=False, fork="cancun")
    assert execute(vm_class, codes) == expected
    assert expected.success
    assert reads == [5]
    assert writes == [(0, 1), (0, 3)]


@pytest.mark.parametrize("backend", ["llvm", "wasm", "ir"])
def test_a_static_frame_cannot_tstore_a_slot_it_has_read(backend: str) -> None:
    """A STATICCALL child reads transient slot 0 (entering it), then writes it: the write
    must halt as py-evm's does, not take the native path."""
    child = bytes.fromhex("5f5c5060015f5d00")  # TLOAD(0); POP; TSTORE(0, 1); STOP
    parent = bytes.fromhex("5f5f5f5f73" + CONTRACT_C.hex() + "5afa5f5260205ff3")
    codes = {CONTRACT_A: parent, CONTRACT_C: child}
    expected = execute(CancunVM, codes)
    vm_class = make_vm_class(backend=backend, interpret_on_compile_error=False, fork="cancun")
    assert execute(vm_class, codes) == expected
    assert expected.success and expected.output == bytes(32)  # the child failed


@pytest.mark.parametrize("backend", ["llvm", "wasm"])
@pytest.mark.parametrize(
    ("call", "extra", "reads"),
    [("other", 0, [0]), ("reenter", 0, [0, 0]), ("other", KEPT_ENTRIES_LIMIT, [0, 0])],
    ids=["call elsewhere", "re-entrant call", "call elsewhere, large table"],
)
def test_a_call_keeps_the_slots_native_unless_the_account_ran_again(
    backend: str, call: str, extra: int, reads: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """SLOAD(0), SSTORE(0, 2), ``extra`` more slots read, a call, SLOAD(0), SSTORE(0, 3).

    A call to another account cannot change this one's storage: slot 0 stays
    in the frame's table, so its second read and write stay in native code and
    the host is asked about it once.  A re-entrant call runs this account
    again (it writes slot 0): the table is forgotten and slot 0 crosses again.
    So is a table of more entries than ``KEPT_ENTRIES_LIMIT``, whose write-back
    before every later call would cost more than keeping it saves.
    """
    from evmkiln.context.pyevm_host import PyEvmHost

    asked: list[int] = []
    load = PyEvmHost.load_slot

    def counting_load(self: PyEvmHost, address: bytes, slot: int) -> tuple[bool, int, int]:
        if address == CONTRACT_A and slot == 0:
            asked.append(slot)
        return load(self, address, slot)

    monkeypatch.setattr(PyEvmHost, "load_slot", counting_load)
    sequence: list[Op] = [("load", 0, 0), ("store", 0, 2)]
    # Slots 1 to 32 share no entry with slot 0 or with each other in either table.
    sequence += [("load", 1 + n, 0) for n in range(extra)] + [(call, 0, 0)]
    sequence += [("load", 0, 0), ("store", 0, 3)]
    codes = {CONTRACT_A: program(sequence), CONTRACT_D: OTHER}
    storage = {CONTRACT_A: {0: 1}}
    expected = execute(CancunVM, codes, storage=storage)
    vm_class = make_vm_class(backend=backend, interpret_on_compile_error=False, fork="cancun")
    assert execute(vm_class, codes, storage=storage) == expected
    assert expected.success
    assert asked == reads
