"""The paths a finding takes: found, shrunk, written, replayed -- for mismatches and crashes.

Real backends agree with py-evm, so these tests fuzz engines that are wrong
on purpose (``wrong_engines``: py-evm with XOR off by one, py-evm that
aborts on one chosen program), through the command line as a user would.
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner
from wrong_engines import CRASH_INDEX, CRASH_SEED

from evmkiln.cli.main import app
from evmkiln.fuzz.generate import generate
from evmkiln.fuzz.reproducer import load_reproducer

runner = CliRunner()


def _fuzz(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["fuzz", "--quiet", *args])
    return result.exit_code, result.output


def test_a_wrong_engine_is_caught_shrunk_and_replayed(tmp_path: Path) -> None:
    code, output = _fuzz(
        "--backend", "wrong_engines:WrongXorVM", "--programs", "40", "--seed", "1",
        "--jobs", "2", "--out", str(tmp_path), "--max-shrinks", "2",
    )  # fmt: skip
    assert code == 1, output
    assert "FOUND" in output and "mismatch on wrong_engines:WrongXorVM" in output
    files = sorted(tmp_path.glob("mismatch-*.json"))
    assert files, output
    shrunk = [load_reproducer(path) for path in files][:2]
    for reproducer in shrunk:
        assert reproducer.kind == "mismatch"
        assert reproducer.seed == 1 and reproducer.index is not None
        assert reproducer.size is not None and reproducer.size <= 12, reproducer.codes
        assert reproducer.original_size is not None and reproducer.original_size > 50
        program = reproducer.program()
        assert any(b"\x18" in code for code in program.codes.values())  # the XOR stayed
        assert reproducer.expected is not None and reproducer.actual is not None
        assert reproducer.expected != reproducer.actual

    code, output = _fuzz("--replay", str(files[0]))
    assert code == 1, output
    assert "MISMATCH" in output
    # The same program on a correct engine: a match.
    code, output = _fuzz("--replay", str(files[0]), "--backend", "ir")
    assert code == 0, output
    assert "MATCH" in output


def test_a_second_run_of_the_same_code_is_checked_too(tmp_path: Path) -> None:
    """An engine that goes wrong only on code it has run before (a stale cache, state
    kept between transactions) passes one run per program and fails the second."""
    args = ["--backend", "wrong_engines:WarmXorVM", "--programs", "4", "--seed", "1"]
    args += ["--jobs", "1", "--out", str(tmp_path), "--max-shrinks", "1"]
    code, output = _fuzz(*args, "--runs", "1")
    assert code == 0, output
    code, output = _fuzz(*args)
    assert code == 1, output
    assert "run 2, code already compiled" in output.replace("\n", " ")
    path = sorted(tmp_path.glob("mismatch-*.json"))[0]
    reproducer = load_reproducer(path)
    assert reproducer.runs == 2
    assert reproducer.size is not None and reproducer.size <= 12
    code, output = _fuzz("--replay", str(path))
    assert code == 1 and "MISMATCH" in output


def test_a_crashing_worker_is_reported_and_the_run_completes(tmp_path: Path) -> None:
    assert generate(CRASH_SEED, CRASH_INDEX).calldata  # what AbortingVM recognises it by
    programs = 16
    code, output = _fuzz(
        "--backend", "wrong_engines:AbortingVM", "--programs", str(programs),
        "--seed", str(CRASH_SEED), "--jobs", "2", "--out", str(tmp_path),
    )  # fmt: skip
    assert code == 1, output
    assert f"crash on wrong_engines:AbortingVM, program {CRASH_INDEX}" in output
    assert "SIGABRT" in output
    assert f"{programs} (from index 0)" in output  # every program ran, the crash included
    assert "FOUND" in output and output.count("FOUND") == 1
    (path,) = tmp_path.glob("crash-*.json")
    reproducer = load_reproducer(path)
    assert reproducer.kind == "crash" and reproducer.index == CRASH_INDEX
    assert "SIGABRT" in reproducer.detail
    assert reproducer.size is not None and reproducer.size <= 3  # only the transaction matters
    assert reproducer.expected is not None and reproducer.actual is None

    code, output = _fuzz("--replay", str(path))
    assert code == 1, output
    assert "CRASH" in output


def test_a_hanging_program_is_a_timeout_and_the_run_completes(tmp_path: Path) -> None:
    code, output = _fuzz(
        "--backend", "wrong_engines:HangingVM", "--programs", "7", "--seed", str(CRASH_SEED),
        "--jobs", "2", "--timeout", "10", "--out", str(tmp_path),
    )  # fmt: skip
    assert code == 1, output
    assert f"timeout on wrong_engines:HangingVM, program {CRASH_INDEX}" in output
    assert "7 (from index 0)" in output
    # On a loaded machine another program may run past 10 s too (its first compile):
    # the hanging one must be among the timeouts, once.
    timeouts = [load_reproducer(path) for path in tmp_path.glob("timeout-*.json")]
    assert all(reproducer.kind == "timeout" for reproducer in timeouts)
    assert [reproducer.index for reproducer in timeouts].count(CRASH_INDEX) == 1


def test_findings_beyond_the_limit_are_counted_not_kept(tmp_path: Path) -> None:
    args = ["--backend", "wrong_engines:WrongXorVM", "--programs", "40", "--seed", "1"]
    args += ["--jobs", "2", "--no-shrink"]
    code, output = _fuzz(*args, "--out", str(tmp_path / "all"))
    every = sorted(load_reproducer(p).index or 0 for p in (tmp_path / "all").glob("*.json"))
    assert code == 1 and len(every) >= 2, output
    code, output = _fuzz(*args, "--out", str(tmp_path / "one"), "--max-findings", "1")
    assert code == 1, output
    assert "findings not kept" in output
    (path,) = (tmp_path / "one").glob("*.json")
    assert load_reproducer(path).index == every[0]  # the lowest index is the one kept


def test_two_backends_against_each_other(tmp_path: Path) -> None:
    code, output = _fuzz(
        "--backend", "ir", "--against", "wasm", "--programs", "12", "--seed", "3",
        "--jobs", "2", "--out", str(tmp_path),
    )  # fmt: skip
    assert code == 0, output
    assert "against wasm" in output
    assert "opcodes executed" not in output  # only the interpreter is observed
    assert "opcodes present" in output


def test_a_corrupt_reproducer_is_a_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"kind": "mismatch", "backend": "ir"')
    code, output = _fuzz("--replay", str(broken))
    assert code == 2
    assert str(broken) in output.replace("\n", "") and "invalid JSON" in output
    assert "Traceback" not in output

    wrong = tmp_path / "wrong.json"
    document = {
        "kind": "mismatch",
        "backend": "ir",
        "transaction": {"to": "0x" + "aa" * 20, "calldata": "0xzz", "value": 0, "gas": 100000},
        "codes": {},
    }
    wrong.write_text(json.dumps(document))
    code, output = _fuzz("--replay", str(wrong))
    assert code == 2
    flat = output.replace("\n", "")
    assert str(wrong) in flat and "transaction.calldata" in flat
    assert "Traceback" not in output

    missing = tmp_path / "missing.json"
    code, output = _fuzz("--replay", str(missing))
    assert code == 2 and "cannot read file" in output


def test_usage_errors(tmp_path: Path) -> None:
    code, output = _fuzz("--backend", "nosuch", "--programs", "1")
    assert code == 2 and "unknown backend 'nosuch'" in output
    code, output = _fuzz("--programs", "1", "--seconds", "1")
    assert code == 2
    code, output = _fuzz("--family", "nosuch", "--programs", "1")
    assert code == 2 and "unknown family" in output


def test_a_reproducer_with_values_no_transaction_holds_is_malformed(tmp_path: Path) -> None:
    """Gas, value or storage beyond a word, or runs beyond the bound, make a malformed
    file (exit 2, the field named), not an INVALID verdict or a run that only ends at
    the timeout."""
    sample = Path(__file__).parent / "regressions" / "sample-create-s2024-i28.json"
    edits = {
        "transaction.gas": lambda d: d["transaction"].update(gas=2**256),
        "transaction.value": lambda d: d["transaction"].update(value=hex(2**256)),
        "storage": lambda d: d.update(storage={next(iter(d["codes"])): {hex(2**256): "0x1"}}),
        "runs": lambda d: d.update(runs=10**9),
    }
    for field, edit in edits.items():
        document = json.loads(sample.read_text())
        edit(document)
        path = tmp_path / f"{field}.json"
        path.write_text(json.dumps(document))
        code, output = _fuzz("--replay", str(path))
        assert code == 2, (field, output)
        assert field in output.replace("\n", ""), (field, output)
