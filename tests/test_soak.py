"""The soak of `make bench`, small: faults, a revoked token, poison records and a kill -9 of `serve`."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.soak import soak


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_under_faults_a_revoked_token_poison_records_and_kill_9_nothing_is_lost_or_written_twice(
    tmp_path: Path,
) -> None:
    result = soak(tmp_path, events=300, contacts=60, revoke_seconds=5.0, poison_share=0.05, kills=1)
    assert result.lost == []
    assert result.duplicate_writes == 0
    assert result.unaudited == []
    assert result.poison > 0 and result.poison_without_reason == []
    assert result.other_dead_letters == 0
    assert result.leaked_to_log == 0
    assert result.paused_logged and result.resumed_logged
    assert result.worker_alive
