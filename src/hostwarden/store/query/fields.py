"""Which column (or label) a field name in a query means.

The rule, in order:

1. A schema field (case-sensitive, `source.ip`) is its column.
2. `labels.KEY` is the label KEY, whatever KEY is (the escape hatch for any label name).
3. A name equal to a schema field except for case (`Source.IP`) is refused: names are
   case-sensitive, and silently searching a label of that name would find nothing.
4. A near miss of a schema field is refused with the close matches (`source.ipp`,
   `proces.name`, `timestamp`). Dotted names are compared with every schema field; dotless
   names only with the dotless ones (`message`, `tags`, `@timestamp`, `labels`), because the
   native names of sources are dotless and often resemble ECS names (auditd `hostname` is
   not a typo of `host.name`).
5. Any other name made of letters, digits, `_`, `-`, `.` and `:` (and an auditd index suffix
   such as `a1[0]`) is a label key (auditd `key`, `a0`, `hostname`; sshd `ssh.invalid_user`;
   ECS fields a JSON source sent that the schema lacks). Anything else (quotes, spaces, `@`) is refused.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from enum import Enum

from hostwarden.core.errors import LOG_SEARCH_FIELD
from hostwarden.core.schema import FIELD_BY_NAME, FIELD_NAMES, Field, quote_ident
from hostwarden.store.query.errors import query_error, shown

LABELS = "labels"
_LABEL_PREFIX = "labels."
_LABEL_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.:\-]*(\[\d+\])?")  # auditd splits long args: a1[0]
_DOTLESS = tuple(n for n in FIELD_NAMES if "." not in n)
_BY_LOWER = {n.lower(): n for n in FIELD_NAMES}
_CUTOFF = 0.85

IP_FIELDS = frozenset({"source.ip", "destination.ip", "related.ip"})


class Kind(Enum):
    STRING = "string"
    NUMBER = "number"
    TIME = "timestamp"
    LIST = "list"
    MAP = "map"
    LABEL = "label"


@dataclass(frozen=True, slots=True)
class Resolved:
    """A searchable thing: a column (`sql` is its quoted name) or a label (`label` is its key)."""

    name: str
    kind: Kind
    sql: str | None = None
    label: str | None = None

    @property
    def is_ip(self) -> bool:
        return self.name in IP_FIELDS


def _kind(field: Field) -> Kind:
    sql = field.sql.upper()
    if sql.endswith("[]"):
        return Kind.LIST
    if sql.startswith("MAP"):
        return Kind.MAP
    if sql.startswith("TIMESTAMP"):
        return Kind.TIME
    if sql in ("INTEGER", "BIGINT", "SMALLINT", "TINYINT", "DOUBLE", "FLOAT", "HUGEINT"):
        return Kind.NUMBER
    return Kind.STRING


def suggestions(name: str) -> list[str]:
    """Schema fields a mistyped name probably meant, best first."""
    if name.lower() in _BY_LOWER:
        return [_BY_LOWER[name.lower()]]
    pool = FIELD_NAMES if "." in name else _DOTLESS
    return difflib.get_close_matches(name, pool, n=3, cutoff=_CUTOFF)


def resolve(name: str, *, query: str = "", pos: int = 0) -> Resolved:
    """Resolve a field name per the module rule; LOG-4002 (pointing at `pos`) when refused."""
    if name in FIELD_BY_NAME:
        return Resolved(name, _kind(FIELD_BY_NAME[name]), sql=quote_ident(name))
    if name.startswith(_LABEL_PREFIX) and len(name) > len(_LABEL_PREFIX):
        return Resolved(name, Kind.LABEL, label=name[len(_LABEL_PREFIX):])
    close = suggestions(name)
    if close:
        case = " (field names are case-sensitive)" if name.lower() in _BY_LOWER else ""
        raise query_error(
            query, pos, f"unknown field {shown(name)}{case}; did you mean {', '.join(close)}?", LOG_SEARCH_FIELD
        )
    if _LABEL_KEY.fullmatch(name):
        return Resolved(name, Kind.LABEL, label=name)
    raise query_error(
        query, pos,
        f"{shown(name)} is not a field name; write labels.NAME (quoted if needed) to search a label",
        LOG_SEARCH_FIELD,
    )


def resolve_column(name: str) -> Resolved:
    """A schema column for output (`--fields`, `--top`): labels allowed as `labels.KEY` or KEY."""
    return resolve(name, query=name, pos=0)
