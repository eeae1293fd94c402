"""A volunteer's identity document for service records (证件信息), stored encrypted.

The ID types are those of the national volunteer information system (全国志愿服务信息系统) and of
the certificate rules' "证件类型": 居民身份证, 港澳居民来往内地通行证 (or 港澳居民居住证),
台湾居民来往大陆通行证 (or 台湾居民居住证), 护照, 外国人永久居留身份证. Each number is checked
by its type's format (resident IDs and the 18-character permits and cards by GB 11643's check
character and a real date of birth); every bad field is refused with its own code and nothing is
written.

Stored: the type, the keyed hash (as registration computes it: `signer.keyed_hashes("resident-id",
number)`, other types with their type in front, so the hash stays unique across types), the last
four, and the number encrypted (`linli.idcrypt`, bound to the volunteer's row). Nothing here
decrypts: `records.identity.reveal` is the only way back to the number; rotation re-encrypts
without handing it out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from linli.errors import FieldError, conflict, invalid
from linli.idcrypt import IdCryptError, IdKeyring, row_binding
from linli.pii import id_number_problem
from linli.signing import Signer
from volunteer import repository_identity as repo
from volunteer.models import Volunteer
from volunteer.service import ID_HASH_PURPOSE, get

# code: (中文, English), in the order the national system lists them
ID_TYPES: dict[str, tuple[str, str]] = {
    "resident_id": ("居民身份证", "Resident identity card"),
    "hk_macao_permit": (
        "港澳居民来往内地通行证/居住证",
        "Mainland travel permit or residence permit for HK and Macao residents",
    ),
    "taiwan_permit": (
        "台湾居民来往大陆通行证/居住证",
        "Mainland travel permit or residence permit for Taiwan residents",
    ),
    "passport": ("护照", "Passport"),
    "foreign_permanent": ("外国人永久居留身份证", "Foreigner's permanent residence ID card"),
}

_FORMATS: dict[str, tuple[re.Pattern, str]] = {
    # 回乡证: H/M + 8 digits (10 in older cards); 港澳居民居住证: 18 characters, 810000/820000...
    "hk_macao_permit": (
        re.compile(r"[HM]\d{8}(\d{2})?|8[12]0000\d{11}[\dX]"),
        "应为H或M加8位数字，或18位居住证号 H or M and 8 digits, or an 18-character residence permit",
    ),
    # 台胞证: 8 digits (10 digits and a letter in older ones); 台湾居民居住证: 830000...
    "taiwan_permit": (
        re.compile(r"\d{8}|\d{10}[A-Z]|830000\d{11}[\dX]"),
        "应为8位数字，或18位居住证号 8 digits, or an 18-character residence permit",
    ),
    "passport": (re.compile(r"[A-Z0-9]{5,17}"), "护照号应为5到17位字母或数字 5 to 17 letters or digits"),
    # 2017 card: 3-letter country code and 12 digits; 2023 card: 18 characters starting with 9
    "foreign_permanent": (
        re.compile(r"[A-Z]{3}\d{12}|9\d{16}[\dX]"),
        "应为15位旧版或9开头的18位新版号码 15 characters (older card) or 18 starting with 9",
    ),
}


@dataclass(frozen=True)
class IdentityView:
    """What anyone but the decrypt path ever sees of it."""

    present: bool  # the number is stored (encrypted): certificates and exports can use it
    id_type: str | None
    last4: str | None


def normalize(raw: str) -> str:
    return re.sub(r"[\s\-()（）]", "", raw or "").upper()


def problems(id_type: str, number: str, today: date) -> list[FieldError]:
    """Every bad field (empty if none): `id_type` invalid_id_type; `id_number` required,
    invalid_format, invalid_birth_date, invalid_checksum."""
    if id_type not in ID_TYPES:
        return [
            FieldError(
                "id_type",
                "invalid_id_type",
                "证件类型应为 " + "、".join(ID_TYPES) + " 之一 ID type must be one of " + ", ".join(ID_TYPES),
            )
        ]
    if not number:
        return [FieldError("id_number", "required", "请填写证件号码 ID number is required")]
    if id_type == "resident_id":
        problem = id_number_problem(number, today)
    else:
        pattern, message = _FORMATS[id_type]
        problem = None if pattern.fullmatch(number) else ("invalid_format", message)
        if problem is None and len(number) == 18:  # residence permits and the new card: GB 11643
            problem = id_number_problem(number, today)  # a date of birth at 7-14 too
    return [FieldError("id_number", *problem)] if problem else []


def hashed_value(id_type: str, number: str) -> str:
    """What the keyed hash is taken of: a resident ID number alone (as registration does)."""
    return number if id_type == "resident_id" else f"{id_type}:{number}"


def give(
    session: Session,
    signer: Signer,
    keys: IdKeyring,
    volunteer_id: int,
    *,
    id_type: str,
    id_number: str,
    today: date,
) -> Volunteer:
    """A volunteer gives (or changes) their identity number. 422 field by field for a bad one;
    409 `id_number_taken` if another volunteer holds it. Nothing is written on a refusal."""
    number = normalize(id_number)
    if errors := problems(id_type, number, today):
        raise invalid(errors)
    hashes = signer.keyed_hashes(ID_HASH_PURPOSE, hashed_value(id_type, number))
    holder = repo.holder(session, hashes)
    if holder is not None and holder != volunteer_id:
        raise _taken()
    volunteer = get(session, volunteer_id)
    value, kid = keys.encrypt(number, row_binding(volunteer_id))
    try:
        with session.begin_nested():
            volunteer.id_hash = hashes[0]
            volunteer.id_last4 = number[-4:]
            volunteer.id_type = id_type
            volunteer.id_number_enc = value
            volunteer.id_key_id = kid
            session.flush()
    except IntegrityError:  # another volunteer's request with the same number won
        session.refresh(volunteer)
        raise _taken() from None
    return volunteer


def _taken():
    return conflict(
        "id_number_taken",
        "该证件号码已被其他志愿者登记，请联系服务中心 This ID number is registered to another volunteer;"
        " please contact your hub",
    )


def view(session: Session, volunteer_id: int) -> IdentityView:
    v = get(session, volunteer_id)
    return IdentityView(present=v.id_number_enc is not None, id_type=v.id_type, last4=v.id_last4)


def sealed(session: Session, volunteer_id: int) -> tuple[str | None, str | None]:
    """(ID type, encrypted value) of a volunteer, for `records.identity.reveal` alone."""
    v = get(session, volunteer_id)
    return v.id_type, v.id_number_enc


SEALED_CHUNK = 500  # volunteers read at once (an IN list)


def sealed_many(session: Session, volunteer_ids: list[int]) -> dict[int, tuple[str | None, str | None]]:
    """{volunteer id: (ID type, encrypted value)}, for `records.identity.reveal_many` alone."""
    ids = sorted(set(volunteer_ids))
    found: dict[int, tuple[str | None, str | None]] = {}
    for i in range(0, len(ids), SEALED_CHUNK):
        for vid, id_type, value in repo.sealed_many(session, ids[i : i + SEALED_CHUNK]):
            found[vid] = (id_type, value)
    return found


# --- key rotation (密钥轮换) -----------------------------------------------------------------------


def rotate_batch(session: Session, keys: IdKeyring, *, limit: int = 200) -> tuple[int, int]:
    """Re-encrypt up to `limit` values not under the current key; (re-encrypted, left) where
    `left` counts rows skipped this time (changed meanwhile or locked by a writer: a later batch
    takes them). Each row is swapped only if its value is still the one read, so a volunteer's
    concurrent change (written under the current key) is never overwritten. Idempotent."""
    done = left = 0
    for volunteer_id, value in repo.not_under(session, keys.current, limit):
        try:
            new, kid = keys.reencrypt(value, row_binding(volunteer_id))
        except IdCryptError:
            left += 1  # an unknown key: the operator removed a key too early (kept, reported)
            continue
        if repo.swap(session, volunteer_id, value, new, kid):
            done += 1
        else:
            left += 1
    return done, left


def count_not_under(session: Session, key_id: str) -> int:
    return repo.count_not_under(session, key_id)


def rotation_started(now: datetime) -> str:
    """The job id of a rotation asked for at `now` (one per second at most)."""
    return f"rotate-ids-{now.strftime('%Y%m%dT%H%M%S')}"
