from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spine.core.errors import InvalidInput
from spine.sources.formats import check_format, digest_chunks, digest_file


def _records(text: bytes, header: bool) -> int:
    lines = [line for line in text.split(b"\n") if line.strip(b"\r")]
    return max(len(lines) - (1 if header else 0), 0)


@given(
    st.lists(st.sampled_from([b"a|b", b"", b"x", b"\r"]), max_size=30),
    st.integers(min_value=1, max_value=7),
    st.booleans(),
)
def test_counts_non_empty_lines_whatever_the_chunking(
    lines: list[bytes], chunk: int, trailing: bool
) -> None:
    text = b"\n".join(lines) + (b"\n" if trailing and lines else b"")
    chunks = [text[i : i + chunk] for i in range(0, len(text), chunk)]
    digest = digest_chunks(chunks, "jsonl")
    assert digest.record_count == _records(text, header=False)
    assert digest.sha256 == hashlib.sha256(text).hexdigest()
    assert digest.size == len(text)


def test_psv_and_csv_do_not_count_the_header(tmp_path: Path) -> None:
    path = tmp_path / "f.psv"
    path.write_bytes(b"a|b\n1|2\n3|4\n\n")
    assert digest_file(path, "psv").record_count == 2
    assert digest_file(path, "csv", header=False).record_count == 3
    assert digest_file(path, "raw").record_count is None


def test_parquet_rows_come_from_the_footer(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"x": list(range(123))}), path)
    digest = digest_file(path, "parquet")
    assert digest.record_count == 123
    assert digest.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest_chunks([path.read_bytes()], "parquet").record_count == 123


def test_unknown_format_is_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown format 'xml'"):
        check_format("xml")


def test_file_digest_hashes_in_a_thread_and_counts_across_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import spine.sources.formats as formats

    monkeypatch.setattr(formats, "CHUNK_SIZE", 3)
    text = b"h|x\n\n1|2\r\n\r\n\n3|4\n\r\n5|6"
    path = tmp_path / "f.psv"
    path.write_bytes(text)
    digest = digest_file(path, "psv")
    assert digest.sha256 == hashlib.sha256(text).hexdigest()
    assert digest.record_count == _records(text, header=True) == 3
