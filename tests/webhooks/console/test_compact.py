"""A history kept packed reads exactly as the one it was made from, in less memory."""

from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path

from harness.calibration_data import write_history, write_mapping
from integration.calibration.history import History, read_history
from integration.domain.whatif import what_if
from integration.service.rules_provider import parse_rules
from mappings.loader import PACKAGED, load_file
from mappings.schema import CrmMapping
from webhooks.console.compact import Packer, key_order, pack, rows


def _history(tmp_path: Path, n: int = 2000) -> History:
    mapping = load_file(CrmMapping, write_mapping(tmp_path / "sheet.yaml"))
    return read_history(write_history(tmp_path / "history.csv", rows=n), mapping, "won", "closed_at")


def _kept(make: object) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        kept = make()  # type: ignore[operator]
        gc.collect()
        size = tracemalloc.get_traced_memory()[0]
        del kept
    finally:
        tracemalloc.stop()
    return size


def test_a_packed_history_gives_the_same_what_if_and_the_same_values(tmp_path: Path) -> None:
    history = _history(tmp_path)
    packed = pack(history)
    assert [dict(lead.values) for lead in packed.leads] == [dict(lead.values) for lead in history.leads]
    current = parse_rules((PACKAGED / "scoring.yaml").read_text(encoding="utf-8"))
    edited = parse_rules((PACKAGED / "scoring.yaml").read_text(encoding="utf-8").replace("points: 25", "points: 60", 1))
    assert what_if(packed, current, edited) == what_if(history, current, edited)


def test_a_packed_history_keeps_less_than_half_the_memory_of_the_leads_as_read(tmp_path: Path) -> None:
    mapping = load_file(CrmMapping, write_mapping(tmp_path / "sheet.yaml"))
    source = write_history(tmp_path / "history.csv", rows=2000)
    as_read = _kept(lambda: read_history(source, mapping, "won", "closed_at"))
    packed = _kept(lambda: pack(read_history(source, mapping, "won", "closed_at")))
    assert packed < as_read / 2


def test_rows_sent_in_pieces_come_back_as_the_same_leads(tmp_path: Path) -> None:
    history = pack(_history(tmp_path, 300))
    index = key_order(history)
    packer = Packer()
    for start in range(0, 300, 50):
        packer.add_rows(index, rows(history, index, start, start + 50))
    assert [dict(lead.values) for lead in packer.leads] == [dict(lead.values) for lead in history.leads]
    assert [lead.record_id for lead in packer.leads] == [lead.record_id for lead in history.leads]
