"""Generate the bundled synthetic FINRA OTC weekly files (deterministic; run once).

Writes ``src/spine/examples/finra/data/otc_<week_ending>_<tier>.psv`` in the real file
format of FINRA's OTC transparency files: pipe-delimited, one header row, one row
per security, venue and week. Four weeks, 2025-01-10 to 2025-01-31; venues differ in
size (a venue's share of the volume is its weight). The week 2025-01-24 is the broken
one, on purpose: its Tier 1 file carries malformed lines (rejected by the parser), and
the four smallest venues' Tier 1 reports are missing (an outage), so its Tier 1 row count
falls under the example's floor (``rows_t1`` in ``quality.yaml``) while its total volume
moves by less than the volume-swing warning. 2025-01-31 is a good week again.
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
# (MPID, venue name, weight): the venue's share of a symbol's volume, roughly.
VENUES = [
    ("UBSA", "UBS ATS", 0.24),
    ("JPMX", "JPM-X", 0.20),
    ("MSPL", "MS POOL (ATS-4)", 0.16),
    ("CROS", "CROSSFINDER", 0.13),
    ("LQNT", "LIQUIDNET ATS", 0.10),
    ("XSTM", "XSTREAM", 0.07),
    ("INCR", "INSTINET CROSSING", 0.04),
    ("DLTX", "DEALERWEB", 0.03),
    ("CDEL", "CITADEL CONNECT", 0.02),
    ("VFCM", "VIRTU MATCHIT", 0.01),
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
WEEKS = [date(2025, 1, 10) + timedelta(weeks=n) for n in range(4)]
BROKEN_WEEK = date(2025, 1, 24)
# The venues whose Tier 1 reports are missing in the broken week: the four smallest.
OUTAGE = {"INCR", "DLTX", "CDEL", "VFCM"}


def symbol_volume(tier: str, symbol: str) -> int:
    """A symbol's usual weekly off-exchange volume: the same every week (seeded by name)."""
    low, high = (20_000_000, 60_000_000) if tier == "T1" else (500_000, 3_000_000)
    return random.Random(symbol).randint(low, high)


def rows_for(week: date, tier: str, rng: random.Random) -> list[str]:
    """One line per symbol and venue that traded that week."""
    updated = (week + timedelta(days=3)).isoformat()
    lines = []
    for symbol, name in SYMBOLS[tier]:
        for mpid, venue, weight in VENUES:
            if rng.random() < 0.15:  # a venue that did not trade the symbol: no row
                continue
            noise = rng.uniform(0.7, 1.3)
            shares = max(1, round(symbol_volume(tier, symbol) * weight * noise))
            trades = max(1, shares // rng.randint(80, 400))
            if week == BROKEN_WEEK and tier == "T1" and mpid in OUTAGE:
                continue  # the outage: drawn, so that the weeks after are as without it
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
