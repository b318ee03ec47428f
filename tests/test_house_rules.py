"""Rules of the code base that a reviewer would otherwise check by hand.

- No module of ``src/spine`` (migrations aside) is over 500 lines: a larger one holds more
  than one concept and is split.
- Below ``spine.bootstrap``, nothing reads the environment or loads settings: values are
  passed down. The exceptions are ``spine.config`` (it is the settings),
  ``spine.core.secrets`` (``env:`` references are resolved where they are used) and spec
  002's ``DatabaseConfig.from_env()``.
"""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "spine"
MAX_LINES = 500

# Modules allowed to read the environment, and why (see the module docstring).
READS_ENVIRONMENT = {
    "config.py",
    "bootstrap.py",
    "core/secrets.py",
    "core/storage/adapter.py",
}
# The interfaces sit above bootstrap: they read their options and hand them to it.
INTERFACES = ("cli/", "api/", "web/")
ENVIRONMENT = re.compile(r"\bos\.environ\b|\bos\.getenv\b|\bload_settings\s*\(")


def modules() -> list[Path]:
    return [p for p in SRC.rglob("*.py") if "migrations" not in p.relative_to(SRC).parts]


def test_no_module_is_over_500_lines() -> None:
    too_long = {
        str(path.relative_to(SRC)): lines
        for path in modules()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert too_long == {}


def test_nothing_below_bootstrap_reads_the_environment() -> None:
    readers = []
    for path in modules():
        name = path.relative_to(SRC).as_posix()
        if name in READS_ENVIRONMENT or name.startswith(INTERFACES):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if ENVIRONMENT.search(code) and not code.lstrip().startswith(("``", '"', "'")):
                readers.append(f"{name}:{number}: {line.strip()}")
    assert readers == []


# Where spine seals a secret into the database; `spine secret-key rotate` re-seals each
# of them (src/spine/cli/secret_key.py). A new place must be added there, then here.
SEALS_SECRETS = {"alerting/secrets.py", "sources/mirror.py"}


def test_every_place_that_seals_a_secret_is_re_sealed_by_rotate() -> None:
    sealing = {
        str(path.relative_to(SRC)) for path in modules() if ".encrypt(" in path.read_text("utf-8")
    } - {"core/crypto.py"}
    assert sealing == SEALS_SECRETS
