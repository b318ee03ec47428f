"""Generate the bundled synthetic FINRA OTC weekly files (deterministic; run once).

Writes ``src/spine/examples/finra/data/otc_<week_ending>_<tier>.psv`` in the real file
format of FINRA's OTC transparency files: pipe-delimited, one header row, one row
per security, venue and week. The week 2025-01-24 carries malformed lines on purpose.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

HEADER = (
    "tierDescription|issueSymbolIdentifier|issueName|marketParticipantName|MPID|"
    "totalWeeklyShareQuantity|totalWeeklyTradeCount|lastUpdateDate"
)
TIERS = {"T1": "NMS Tier 1", "T2": "NMS Tier 2", "OTC": "OTC"}
VENUES = [
    ("UBSA", "UBS ATS"),
    ("JPMX", "JPM-X"),
    ("MSPL", "MS POOL (ATS-4)"),
    ("CROS", "CROSSFINDER"),
    ("LQNT", "LIQUIDNET ATS"),
    ("XSTM", "XSTREAM"),
    ("INCR", "INSTINET CROSSING"),
    ("DLTX", "DEALERWEB"),
    ("CDEL", "CITADEL CONNECT"),
    ("VFCM", "VIRTU MATCHIT"),
]
SYMBOLS = {
    "T1": [
        ("AAPL", "Apple Inc."),
        ("MSFT", "Microsoft Corporation"),
        ("AMZN", "Amazon.com"),
        ("NVDA", "NVIDIA Corporation"),
        ("GOOGL", "Alphabet Inc. Class A"),
        ("META", "Meta Platforms"),
        ("JPM", "JPMorgan Chase"),
        ("XOM", "Exxon Mobil"),
        ("V", "Visa Inc."),
        ("PG", "Procter & Gamble"),
    ],
    "T2": [
        ("SMCI", "Super Micro Computer"),
        ("PLUG", "Plug Power"),
        ("RIOT", "Riot Platforms"),
        ("SOFI", "SoFi Technologies"),
        ("RUN", "Sunrun Inc."),
        ("FUBO", "fuboTV"),
        ("BYND", "Beyond Meat"),
    ],
    "OTC": [
        ("TCEHY", "Tencent Holdings ADR"),
        ("NSRGY", "Nestle SA ADR"),
        ("RHHBY", "Roche ADR"),
        ("GBTC", "Grayscale Bitcoin Trust"),
        ("OTCM", "OTC Markets Group"),
    ],
}
WEEKS = [date(2025, 1, 10) + timedelta(weeks=n) for n in range(3)]
BROKEN_WEEK = date(2025, 1, 24)


def rows_for(week: date, tier: str, rng: random.Random) -> list[str]:
    """One line per symbol and venue that traded that week."""
    updated = (week + timedelta(days=3)).isoformat()
    lines = []
    for symbol, name in SYMBOLS[tier]:
        for mpid, venue in VENUES:
            if rng.random() < 0.15:  # a venue that did not trade the symbol: no row
                continue
            shares = rng.randint(1_000, 5_000_000) if tier == "T1" else rng.randint(100, 400_000)
            trades = max(1, shares // rng.randint(80, 400))
            lines.append(
                f"{TIERS[tier]}|{symbol}|{name}|{venue}|{mpid}|{shares}|{trades}|{updated}"
            )
    return lines


def main() -> None:
    """Write every sample file."""
    out = Path(__file__).resolve().parents[1] / "src/spine/examples/finra/data"
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(20250110)
    for week in WEEKS:
        for tier in TIERS:
            lines = rows_for(week, tier, rng)
            if week == BROKEN_WEEK and tier == "T1":
                lines += [
                    "NMS Tier 1|AAPL|Apple Inc.|UBS ATS|UBSA|12|1",  # PARSE_ERROR: 7 columns
                    "NMS Tier 1|MSFT|Microsoft Corporation|JPM-X|JPMX|-50|3|2025-01-27",
                    "NMS Tier 1|AMZN|Amazon.com|MS POOL (ATS-4)|MS|100|2|2025-01-27",
                    "NMS Tier 1|1BAD|Bad Symbol|JPM-X|JPMX|100|2|2025-01-27",
                    "NMS Tier 1|NVDA|NVIDIA Corporation|UBS ATS|UBSA|lots|2|2025-01-27",
                    lines[0],  # DUPLICATE_KEY
                ]
            path = out / f"otc_{week.isoformat()}_{tier}.psv"
            path.write_text(HEADER + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
            print(f"wrote {path.name}: {len(lines)} rows")


if __name__ == "__main__":
    main()
