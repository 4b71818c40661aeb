"""How old the advisory data is, and the SCAN-9010 warning past the configured maximum age.

Age is measured from the newest `modified` time among the stored records: the data's own
clock, so importing an old snapshot today still shows as stale (the failure the seed warns about:
a database that looks updated but is not). The import time is shown beside it.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any

from hostwarden.core.errors import SCAN_ADVISORIES_STALE

DEFAULT_MAX_AGE_DAYS = 2.0


@dataclass(frozen=True, slots=True)
class Freshness:
    newest: _dt.datetime | None
    age_days: float | None
    stale: bool
    message: str

    @property
    def code(self) -> str:
        return SCAN_ADVISORIES_STALE.code

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"newest_modified": self.newest.isoformat() if self.newest else None,
                               "age_days": None if self.age_days is None else round(self.age_days, 2),
                               "stale": self.stale}
        if self.stale:
            out["code"] = SCAN_ADVISORIES_STALE.code
            out["message"] = self.message
        return out


def parse_ts(text: str | None) -> _dt.datetime | None:
    if not text:
        return None
    try:
        value = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=_dt.UTC)


def assess(newest_modified: str | None, max_age_days: float = DEFAULT_MAX_AGE_DAYS,
           now: _dt.datetime | None = None) -> Freshness:
    now = now or _dt.datetime.now(_dt.UTC)
    newest = parse_ts(newest_modified)
    if newest is None:
        return Freshness(None, None, True, "advisory database is empty")
    age = (now - newest).total_seconds() / 86400
    stale = age > max_age_days
    message = (f"newest advisory is {age:.1f} days old "
               f"(maximum {max_age_days:g}); run `hostwarden vulndb update`") if stale else "fresh"
    return Freshness(newest, age, stale, message)
