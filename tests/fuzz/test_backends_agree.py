"""A bounded fuzzing run per backend: every program must agree with py-evm.

The counts are what a CI run affords (llvm compiles each new contract for
about a quarter of a second); the long runs are documented in
docs/reliability.md.  A finding fails the test with the reproducers' paths.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from evmkiln.fuzz.campaign import CampaignConfig, run_campaign

PROGRAMS = {"ir": 200, "wasm": 150, "llvm": 120}
SEED = 2024


@pytest.mark.parametrize("backend", sorted(PROGRAMS))
def test_generated_programs_agree_with_pyevm(backend: str, tmp_path: Path) -> None:
    config = CampaignConfig(
        backends=(backend,),
        seed=SEED,
        programs=PROGRAMS[backend],
        jobs=2,
        out=tmp_path,
        shrink_seconds=30,
        max_shrinks=3,
    )
    result = run_campaign(config)
    assert result.stats.programs == PROGRAMS[backend]
    assert result.stats.invalid == 0
    assert not result.stats.worker_errors, result.stats.worker_errors[:3]
    assert not result.findings, [
        f"{f.kind.value} {f.index}: {f.detail} ({f.path})" for f in result.findings
    ]
    assert len(result.stats.executed) > 100
