"""The workload's contracts, taken from the bench fixtures and the state tests.

Real code, called the way its fixture calls it:

* **bench fixtures** (``bench/*.json``): real contracts (an ERC-20, WETH, a
  Uniswap V2 pair, USDC's proxy and FiatToken, an airdrop, a counter, ...)
  with the storage their call needs.  Each lives at ``0xcc..cc`` in its
  fixture, so here each gets an address of its own (``0xcc00..00NN``); their
  code finds itself through ``ADDRESS``, never by a constant.  The loop
  micro-benchmarks (:data:`EXCLUDED_BENCH`) are left out: 2.5-205 Mgas in one
  transaction is no chain's traffic, and py-evm needs 0.7-23 s for each.
* **state tests** (``GeneralStateTests``): the code-bearing accounts of a
  test's pre-state, at the test's own addresses (their code calls each
  other by constant address, which relocation would break), and the
  distinct ``(data, gas, value)`` of its Cancun cases that expect no
  exception.  Tests are taken in a seeded order.  Most of them use the same
  few addresses (``0x095e7bae...``, ``0x1000...0001``): an account that
  clashes with one already taken (same address, different code or storage)
  is *relocated* to a fresh address when its address is pushed whole
  (``PUSH20``, i.e. its first byte is not zero): every ``PUSH20`` of it in
  the test's codes, storage values equal to it and its bytes in calldata
  are rewritten (:func:`relocate`).  A test with a clashing short address
  (``0x...0100``, pushed in two bytes and not safely rewritable) is skipped,
  and so is one whose called code an earlier contract already has (each
  contract is a distinct code), one sent by another key than the state
  tests' usual one, a blob transaction, and a plain transfer.
  Creation transactions are kept: their initcode runs once per
  transaction, as deployments do.

Gas limits are capped at ``max_tx_gas`` (a transaction of a state test that
needs more runs out of gas: still a transaction, checked like any other).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

from evmkiln.fixtures import FixtureError, load_bench_file, load_state_test_file
from evmkiln.fixtures.world import Account
from evmkiln.workload.spec import (
    BENCH_SENDER,
    STATE_TEST_KEY,
    STATE_TEST_SENDER,
    Call,
    Contract,
    GenesisAccount,
)

EXCLUDED_BENCH = frozenset({"snailtracer", "erc20_transfer", "hash_10k", "fibonacci-calldata"})
"""Bench fixtures that are loops of millions of gas, not transactions (see the module doc)."""

MAX_VALUE = 10**24
"""A call variant sending more wei than this is dropped (the sender's funds are finite)."""

_RESERVED = frozenset({STATE_TEST_SENDER, BENCH_SENDER})


def bench_address(index: int) -> bytes:
    """Where the ``index``-th bench contract lives."""
    return (0xCC << 152 | index).to_bytes(20, "big")


def bench_contracts(bench_dir: Path, max_tx_gas: int) -> list[Contract]:
    """The bench fixtures' contracts, by file name, less :data:`EXCLUDED_BENCH`."""
    contracts: list[Contract] = []
    for path in sorted(bench_dir.glob("*.json")):
        if path.stem in EXCLUDED_BENCH:
            continue
        fixture = load_bench_file(path).fixture
        tx = fixture.tx
        if tx.to is None or tx.sender != BENCH_SENDER:
            continue
        target = fixture.pre.get(tx.to)
        if target is None or not target.code:
            continue
        address = bench_address(len(contracts) + 1)
        account = _genesis_account(address, target)
        call = Call("spoofed", address, tx.data, tx.value, min(tx.gas_limit, max_tx_gas))
        contracts.append(Contract(path.stem, "bench", (account,), (call,)))
    return contracts


def _genesis_account(address: bytes, account: Account) -> GenesisAccount:
    return GenesisAccount(
        address=address,
        code=account.code,
        balance=account.balance,
        nonce=account.nonce,
        storage=dict(account.storage),
    )


def _state_test_files(root: Path, seed: int) -> Iterator[Path]:
    files = sorted(root.rglob("*.json"))
    random.Random(seed).shuffle(files)
    yield from files


def state_test_contracts(
    root: Path,
    count: int,
    *,
    seed: int,
    max_tx_gas: int,
    taken: dict[bytes, GenesisAccount] | None = None,
    fork: str = "Cancun",
) -> list[Contract]:
    """Up to ``count`` contracts from the state tests under ``root`` (see the module doc).

    ``taken`` holds accounts already in the genesis state (by address); the
    accounts chosen here are added to it.
    """
    taken = {} if taken is None else taken
    if count <= 0:
        return []
    called: set[bytes] = set()
    contracts: list[Contract] = []
    for path in _state_test_files(root, seed):
        try:
            tests = load_state_test_file(path).root
        except FixtureError:
            continue
        for name, test in tests.items():
            contract = _from_state_test(
                f"{path.stem}/{name}" if name != path.stem else name,
                test.pre,
                test,
                fork,
                max_tx_gas,
            )
            if contract is None:
                continue
            key = contract.calls[0].data if contract.calls[0].to is None else None
            if key is None:
                key = next(a.code for a in contract.accounts if a.address == contract.calls[0].to)
            if key in called:
                continue
            if not _fits(contract, taken):
                moved = relocate(contract, taken)
                if moved is None:
                    continue
                contract = moved
            called.add(key)
            for account in contract.accounts:
                taken[account.address] = account
            contracts.append(contract)
            if len(contracts) >= count:
                return contracts
    return contracts


def _intrinsic_bound(data: bytes) -> int:
    """More than any Cancun transaction's intrinsic gas for ``data`` (creation included)."""
    return 21_000 + 32_000 + 16 * len(data) + 2 * ((len(data) + 31) // 32)


def relocated_address(name: str, address: bytes) -> bytes:
    """A fresh address for ``address`` in contract ``name`` (first byte ``0xa0``-``0xaf``)."""
    from eth_hash.auto import keccak

    digest: bytes = keccak(name.encode() + address)
    return bytes([0xA0 | digest[0] & 0x0F]) + digest[1:20]


def relocate(contract: Contract, taken: dict[bytes, GenesisAccount]) -> Contract | None:
    """``contract`` with its clashing accounts moved to fresh addresses, or None if it cannot be.

    An address can move when it is pushed whole (its first byte is not zero,
    so compilers and fillers emit ``PUSH20``); its ``PUSH20`` in every code
    of the contract, storage values equal to it and its bytes in calldata are
    rewritten.  Code that computes the address arithmetically would now miss
    it: the transaction still runs the same on every configuration, which is
    all the workload asks.
    """
    moves: dict[bytes, bytes] = {}
    for account in contract.accounts:
        if taken.get(account.address, account) != account:
            if account.address[0] == 0:
                return None
            fresh = relocated_address(contract.name, account.address)
            if fresh in taken:
                return None
            moves[account.address] = fresh
    if not moves:
        return contract

    def code(raw: bytes) -> bytes:
        for old, new in moves.items():
            raw = raw.replace(b"\x73" + old, b"\x73" + new)
        return raw

    def data(raw: bytes) -> bytes:
        for old, new in moves.items():
            raw = raw.replace(old, new)
        return raw

    words = {int.from_bytes(old, "big"): int.from_bytes(new, "big") for old, new in moves.items()}
    accounts = tuple(
        GenesisAccount(
            address=moves.get(a.address, a.address),
            code=code(a.code),
            balance=a.balance,
            nonce=a.nonce,
            storage={k: words.get(v, v) for k, v in a.storage.items()},
        )
        for a in contract.accounts
    )
    calls = tuple(
        Call(
            c.sender,
            None if c.to is None else moves.get(c.to, c.to),
            code(c.data) if c.to is None else data(c.data),
            c.value,
            c.gas,
        )
        for c in contract.calls
    )
    return Contract(contract.name, contract.source, accounts, calls)


def _fits(contract: Contract, taken: dict[bytes, GenesisAccount]) -> bool:
    """Whether every account of ``contract`` is free, or already there exactly as it needs it."""
    return all(taken.get(a.address, a) == a for a in contract.accounts)


def _from_state_test(
    name: str, pre: dict[bytes, Account], test: object, fork: str, max_tx_gas: int
) -> Contract | None:
    from evmkiln.fixtures import StateTest

    assert isinstance(test, StateTest)
    template = test.transaction
    if template.secret_key != STATE_TEST_KEY:
        return None
    if template.blob_versioned_hashes is not None or template.authorization_list is not None:
        return None
    if template.to is not None:
        target = pre.get(template.to)
        if target is None or not target.code:
            return None  # a plain transfer, or a call to nothing
    accounts = tuple(
        _genesis_account(address, account)
        for address, account in sorted(pre.items())
        if account.code and address not in _RESERVED
    )
    if any(address in _RESERVED and account.code for address, account in pre.items()):
        return None
    calls: dict[tuple[bytes, int, int], Call] = {}
    for case in test.post.get(fork, ()):
        if case.expect_exception:
            continue
        spec = test.transaction_for(case)
        if spec.value > MAX_VALUE:
            continue
        gas = min(spec.gas_limit, max_tx_gas)
        if gas < _intrinsic_bound(spec.data):
            continue
        calls.setdefault(
            (spec.data, gas, spec.value), Call("keyed", template.to, spec.data, spec.value, gas)
        )
    if not calls:
        return None
    return Contract(name, "statetest", accounts, tuple(calls.values()))
