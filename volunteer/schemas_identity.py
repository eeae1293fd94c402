"""What goes in and out of a volunteer's identity endpoints: the full number goes in, never out."""

from __future__ import annotations

from typing import Annotated

import msgspec

from linli.bounds import by_service
from volunteer.identity import ID_TYPES, IdentityView


class IdentityBody(msgspec.Struct, forbid_unknown_fields=False):
    id_type: Annotated[str, by_service(choices=tuple(ID_TYPES))] = ""
    id_number: str = ""


class IdentityRead(msgspec.Struct):
    """Masked: whether the number is stored, its type and last four."""

    present: bool
    id_type: str | None
    id_type_name: str | None  # 中文 / English
    last4: str | None

    @classmethod
    def of(cls, v: IdentityView) -> IdentityRead:
        name = " ".join(ID_TYPES[v.id_type]) if v.id_type in ID_TYPES else None
        return cls(present=v.present, id_type=v.id_type, id_type_name=name, last4=v.last4)
