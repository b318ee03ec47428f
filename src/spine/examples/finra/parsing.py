"""Parsing and row validation of FINRA OTC weekly files (pipe-delimited, one header).

Each bad row is rejected with one of the reason codes of the file format
(``PARSE_ERROR``, ``INVALID_DATE``, ``INVALID_TIER``, ``NEGATIVE_VOLUME``,
``NEGATIVE_TRADES``, ``INVALID_SYMBOL``, ``INVALID_MPID``, ``DUPLICATE_KEY``) and the rest
keep loading.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

HEADER = (
    "tierDescription",
    "issueSymbolIdentifier",
    "issueName",
    "marketParticipantName",
    "MPID",
    "totalWeeklyShareQuantity",
    "totalWeeklyTradeCount",
    "lastUpdateDate",
)
TIER_CODES = {"NMS Tier 1": "T1", "NMS Tier 2": "T2", "OTC": "OTC"}
_SYMBOL = re.compile(r"^[A-Za-z][A-Za-z0-9.\-/]{0,9}$")
_MPID = re.compile(r"^[A-Za-z0-9]{4}$")


@dataclass(slots=True)
class ParsedFile:
    """The valid rows of a file and the rejected ones, with reason codes."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[dict[str, Any]] = field(default_factory=list)

    def reject_counts(self) -> dict[str, int]:
        """Rejected rows per reason code."""
        return dict(Counter(r["code"] for r in self.rejects))


def parse(text: str, week_ending: date) -> ParsedFile:
    """Parse a weekly file; line numbers in rejects count the header as line 1."""
    result = ParsedFile()
    lines = text.splitlines()
    if not lines or tuple(lines[0].split("|")) != HEADER:
        result.rejects.append({"line": 1, "code": "PARSE_ERROR", "detail": "unexpected header"})
        return result
    seen: set[tuple[str, str, str]] = set()
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        row, code, detail = _row(line)
        if row is not None:
            key = (row["tier"], row["symbol"], row["mpid"])
            if key in seen:
                row, code, detail = None, "DUPLICATE_KEY", "|".join(key)
            else:
                seen.add(key)
        if row is None:
            result.rejects.append({"line": number, "code": code, "detail": detail})
            continue
        row["week_ending"] = week_ending.isoformat()
        result.rows.append(row)
    return result


def _row(line: str) -> tuple[dict[str, Any] | None, str, str]:
    parts = line.split("|")
    if len(parts) != len(HEADER):
        return None, "PARSE_ERROR", f"{len(parts)} columns, expected {len(HEADER)}"
    tier_text, symbol, name, venue, mpid, shares_text, trades_text, updated = parts
    tier = TIER_CODES.get(tier_text)
    if tier is None:
        return None, "INVALID_TIER", tier_text
    try:
        shares, trades = int(shares_text), int(trades_text)
    except ValueError:
        return None, "PARSE_ERROR", f"not a whole number: {shares_text!r} or {trades_text!r}"
    if shares < 0:
        return None, "NEGATIVE_VOLUME", shares_text
    if trades < 0:
        return None, "NEGATIVE_TRADES", trades_text
    if not _SYMBOL.match(symbol):
        return None, "INVALID_SYMBOL", symbol
    if not _MPID.match(mpid):
        return None, "INVALID_MPID", mpid
    try:
        last_update = date.fromisoformat(updated)
    except ValueError:
        return None, "INVALID_DATE", updated
    return (
        {
            "tier": tier,
            "symbol": symbol,
            "issue_name": name,
            "venue": venue,
            "mpid": mpid,
            "shares": shares,
            "trades": trades,
            "last_update_date": last_update.isoformat(),
        },
        "",
        "",
    )
