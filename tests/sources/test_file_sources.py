from __future__ import annotations

import os
from pathlib import Path

import pytest

from spine.core.errors import Conflict, InvalidInput
from spine.sources import FetchStatus, SourceDisabled, SourceNotFound, SourceService

HEADER = "tierDescription|issueSymbolIdentifier|MPID\n"


def _write(path: Path, rows: int, mtime: int | None = None) -> Path:
    path.write_text(HEADER + "".join(f"NMS Tier 1|S{i}|ABCD\n" for i in range(rows)))
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


@pytest.fixture
def weekly(sources: SourceService, tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    _write(data / "otc_2025-01-10_T1.psv", 3, 1_700_000_000)
    _write(data / "otc_2025-01-10_T2.psv", 2, 1_700_000_000)
    _write(data / "otc_2025-01-17_T1.psv", 5, 1_700_000_000)
    sources.add("otc", "file", {"path": f"{data}/otc_{{week_ending}}_*.psv", "format": "psv"})
    return data


def test_glob_with_placeholders_counts_records_and_bytes(
    sources: SourceService, weekly: Path
) -> None:
    result = sources.fetch("otc", {"week_ending": "2025-01-10"})
    assert result.status is FetchStatus.SUCCESS
    assert result.record_count == 5
    assert [p.name for p in result.paths] == ["otc_2025-01-10_T1.psv", "otc_2025-01-10_T2.psv"]
    assert result.byte_count == sum(p.stat().st_size for p in result.paths)
    assert result.capture_id is not None and result.capture_id.startswith("otc:week_ending=")
    row = sources.fetches("otc")[0]
    assert row["status"] == "SUCCESS"
    assert row["source_locator"] == f"{weekly}/otc_2025-01-10_*.psv"
    assert row["record_count"] == 5
    assert row["content_hash"] == result.content_hash


def test_same_files_are_unchanged_unless_forced(sources: SourceService, weekly: Path) -> None:
    first = sources.fetch("otc", {"week_ending": "2025-01-10"})
    again = sources.fetch("otc", {"week_ending": "2025-01-10"})
    assert again.status is FetchStatus.UNCHANGED
    assert again.content_hash == first.content_hash
    assert again.capture_id == first.capture_id
    assert sources.fetch("otc", {"week_ending": "2025-01-10"}, force=True).status is (
        FetchStatus.SUCCESS
    )
    # Another week is another locator: its first fetch is a SUCCESS.
    assert sources.fetch("otc", {"week_ending": "2025-01-17"}).status is FetchStatus.SUCCESS


def test_touched_file_is_rehashed_and_still_unchanged(sources: SourceService, weekly: Path) -> None:
    sources.fetch("otc", {"week_ending": "2025-01-10"})
    os.utime(weekly / "otc_2025-01-10_T1.psv", (1_800_000_000, 1_800_000_000))
    assert sources.fetch("otc", {"week_ending": "2025-01-10"}).status is FetchStatus.UNCHANGED


def test_changed_content_is_a_new_capture(sources: SourceService, weekly: Path) -> None:
    first = sources.fetch("otc", {"week_ending": "2025-01-10"})
    _write(weekly / "otc_2025-01-10_T2.psv", 4, 1_700_000_000)  # same mtime, new size
    second = sources.fetch("otc", {"week_ending": "2025-01-10"})
    assert second.status is FetchStatus.SUCCESS
    assert second.record_count == 7
    assert second.capture_id != first.capture_id


def test_missing_file_is_not_found_with_a_category(sources: SourceService, weekly: Path) -> None:
    result = sources.fetch("otc", {"week_ending": "2025-01-03"})
    assert result.status is FetchStatus.NOT_FOUND
    row = sources.fetches("otc")[0]
    assert row["status"] == "NOT_FOUND"
    assert row["error_category"] == "NOT_FOUND"
    assert "no file matches" in row["error"]


def test_missing_placeholder_value_fails_with_validation(
    sources: SourceService, weekly: Path
) -> None:
    result = sources.fetch("otc")
    assert result.status is FetchStatus.FAILED
    assert result.error_category == "VALIDATION"
    assert "week_ending" in (result.error or "")


def test_config_params_are_defaults(sources: SourceService, weekly: Path) -> None:
    sources.add(
        "otc.default",
        "file",
        {"path": str(weekly / "otc_{week_ending}_T1.psv"), "params": {"week_ending": "2025-01-17"}},
    )
    assert sources.fetch("otc.default").record_count == 5
    assert sources.fetch("otc.default", {"week_ending": "2025-01-10"}).record_count == 3


def test_unknown_and_disabled_sources_raise_without_a_row(
    sources: SourceService, weekly: Path
) -> None:
    with pytest.raises(SourceNotFound, match="no source named 'nope'"):
        sources.fetch("nope")
    sources.set_enabled("otc", False)
    with pytest.raises(SourceDisabled):
        sources.fetch("otc", {"week_ending": "2025-01-10"})
    assert sources.fetches("otc") == []
    sources.set_enabled("otc", True)
    assert sources.fetch("otc", {"week_ending": "2025-01-10"}).ok


def test_registry_refuses_duplicates_bad_types_and_clear_credentials(
    sources: SourceService, weekly: Path
) -> None:
    with pytest.raises(Conflict):
        sources.add("otc", "file", {"path": "x"})
    assert sources.add("otc", "file", {"path": "x"}, if_absent=True).config["format"] == "psv"
    with pytest.raises(InvalidInput, match="unknown source type 'ftp'"):
        sources.add("f", "ftp", {"path": "x"})
    with pytest.raises(InvalidInput, match="needs 'url'"):
        sources.add("h", "http", {})
    with pytest.raises(InvalidInput, match="looks like a credential"):
        sources.add(
            "h", "http", {"url": "http://x/", "auth": {"type": "bearer", "token": "s3cr3t"}}
        )
    with pytest.raises(InvalidInput, match="env:VARIABLE or file:PATH"):
        sources.add("h", "http", {"url": "http://x/", "auth": {"token_ref": "s3cr3t"}})


def test_remove_keeps_the_fetch_history(sources: SourceService, weekly: Path) -> None:
    sources.fetch("otc", {"week_ending": "2025-01-10"})
    sources.remove("otc")
    with pytest.raises(SourceNotFound):
        sources.get("otc")
    rows = sources.fetches("otc")
    assert len(rows) == 1
    assert rows[0]["source_id"] is None
