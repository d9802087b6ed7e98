"""Running one case and deciding pass/fail against the fixture's expectations.

A case passes when the transaction was rejected exactly when the fixture
expects an exception, and the post-state root and logs hash match.  Any
exception escaping the VM makes the case *errored* (with the exception and the
innermost frame), never a crash of the run.
"""

from __future__ import annotations

import time
import traceback
from typing import Any

from evmkiln.fixtures.statetest import PostCase, StateTest
from evmkiln.forks.blobs import BlobSchedule
from evmkiln.statetest.execution import Outcome, apply_transaction
from evmkiln.statetest.results import CaseRef, CaseResult, Status


def _short_hex(value: bytes) -> str:
    return "0x" + value.hex()


def judge(outcome: Outcome, case: PostCase) -> tuple[Status, str]:
    """Compare an outcome with the expected one; the reason says what differs."""
    expected_rejection = case.expect_exception
    if expected_rejection is not None and outcome.rejected is None:
        return Status.FAILED, f"transaction accepted, expected {expected_rejection}"
    if expected_rejection is None and outcome.rejected is not None:
        return Status.FAILED, f"transaction rejected: {outcome.rejected}"
    problems = []
    if outcome.state_root != case.hash:
        problems.append(
            f"state root {_short_hex(outcome.state_root)} != expected {_short_hex(case.hash)}"
        )
    if outcome.logs_hash != case.logs:
        problems.append(
            f"logs hash {_short_hex(outcome.logs_hash)} != expected {_short_hex(case.logs)}"
        )
    if problems:
        return Status.FAILED, "; ".join(problems)
    if outcome.rejected is not None:
        return Status.PASSED, f"rejected as expected: {outcome.rejected}"
    return Status.PASSED, ""


def describe_exception(exc: BaseException) -> str:
    """``Type: message (at file:line in function)`` for the innermost frame."""
    message = f"{type(exc).__name__}: {exc}"
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        message += f" (at {last.filename}:{last.lineno} in {last.name})"
    return message


def blob_schedule_for(test: StateTest, post_key: str) -> BlobSchedule | None:
    """The fixture's blob schedule for the fork whose cases run, if it states one."""
    params = test.config.blob_schedule.get(post_key)
    if params is None:
        return None
    return BlobSchedule(params.target, params.max, params.base_fee_update_fraction)


def run_case(
    ref: CaseRef,
    test: StateTest,
    case: PostCase,
    vm_class: type[Any],
    backend: str,
    post_key: str = "Cancun",
) -> CaseResult:
    """Run ``case`` of ``test`` (one of its ``post[post_key]`` cases) on ``vm_class``."""
    start = time.perf_counter()
    try:
        spec = test.transaction_for(case)
        schedule = blob_schedule_for(test, post_key)
        outcome = apply_transaction(vm_class, test.env, test.pre, spec, schedule)
    except Exception as exc:
        status, reason = Status.ERRORED, describe_exception(exc)
    else:
        status, reason = judge(outcome, case)
    return CaseResult.for_case(ref, status, reason, time.perf_counter() - start, backend)
