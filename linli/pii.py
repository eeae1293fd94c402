"""Personal data (个人信息): validation, normalisation and masking of names, phones and resident
ID numbers, shared by volunteers and diners. The PIPL way: keep the least, show the least."""

from __future__ import annotations

import re
from datetime import date

_PHONE_SEPARATORS = re.compile(r"[\s\-()]")
_PHONE = re.compile(r"1[3-9]\d{9}")

# CJK unified ideographs, extension A, extensions B-F (rare characters in real names: 生僻字),
# and compatibility ideographs; the middle dot joins the parts of minority names (阿依古丽·买买提).
_HAN = (
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002a6df\U0002a700-\U0002ebef\U00030000-\U0003134f"
)
_NAME = re.compile(rf"[{_HAN}]+(?:·[{_HAN}]+)*")
_DOT_VARIANTS = str.maketrans({"•": "·", "・": "·", "．": "·", "‧": "·", "∙": "·", "⋅": "·"})

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID = re.compile(r"\d{17}[\dX]")


def normalize_name(raw: str) -> str:
    return raw.strip().translate(_DOT_VARIANTS)


def name_problem(name: str) -> tuple[str, str] | None:
    """None if the (normalised) name is a valid Chinese name, else (code, message)."""
    if not name:
        return "required", "请填写姓名 Name is required"
    if len(name) < 2 or len(name) > 20:
        return "length", "姓名应为2到20个字 Name must be 2 to 20 characters"
    if not _NAME.fullmatch(name):
        return "not_chinese", "姓名只能包含汉字和间隔号· Name must be Chinese characters (· between parts)"
    return None


def normalize_phone(raw: str) -> str:
    phone = _PHONE_SEPARATORS.sub("", raw.strip())
    for prefix in ("+86", "0086", "86"):
        if phone.startswith(prefix) and len(phone) == 11 + len(prefix):
            return phone[len(prefix) :]
    return phone


def phone_problem(phone: str) -> tuple[str, str] | None:
    if not phone:
        return "required", "请填写手机号 Phone number is required"
    if not _PHONE.fullmatch(phone):
        return "invalid_phone", "手机号应为11位大陆手机号 Phone must be an 11-digit mainland mobile number"
    return None


def normalize_id_number(raw: str) -> str:
    return raw.strip().replace(" ", "").upper()


def id_number_problem(id_number: str, today: date) -> tuple[str, str] | None:
    """GB 11643-1999: 17 digits and a check character (ISO 7064 MOD 11-2), a real date of birth."""
    if not _ID.fullmatch(id_number):
        return "invalid_format", "身份证号应为18位 ID number must be 18 characters"
    try:
        born = id_birth_date(id_number)
    except ValueError:
        return (
            "invalid_birth_date",
            "身份证号中的出生日期无效 The date of birth in the ID number is not a date",
        )
    if born > today or born.year < 1890:
        return (
            "invalid_birth_date",
            "身份证号中的出生日期无效 The date of birth in the ID number is not plausible",
        )
    total = sum(int(d) * w for d, w in zip(id_number[:17], _ID_WEIGHTS, strict=True))
    if _ID_CHECK[total % 11] != id_number[17]:
        return "invalid_checksum", "身份证号校验位不正确 The ID number's check digit is wrong"
    return None


def id_birth_date(id_number: str) -> date:
    """The date of birth a valid ID number carries (positions 7-14, YYYYMMDD)."""
    return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def id_sex(id_number: str) -> str:
    """`male` or `female`, from a valid ID number's 17th digit (odd: male)."""
    return "male" if int(id_number[16]) % 2 else "female"


def id_check_char(first17: str) -> str:
    """The check character for 17 digits (used by demo data and tests to make valid numbers)."""
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def mask_name(name: str) -> str:
    """王秀英 → 王*英, 王英 → 王*: enough to recognise, not to identify."""
    if len(name) <= 1:
        return name
    return name[0] + "*" * max(1, len(name) - 2) + (name[-1] if len(name) > 2 else "")


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) == 11 else "***"


_PHONE_IN_TEXT = re.compile(r"(?<!\d)((?:\+?86)?1[3-9]\d)\d{4}(\d{4})(?!\d)")


def mask_phones_in(text: str) -> str:
    """Mask every mainland mobile number inside free text (used by the log filter)."""
    return _PHONE_IN_TEXT.sub(r"\1****\2", text)


# a card's or station's code inside a URL or text: /Q/<KIND>.<KEY ID>.<BODY>.<MAC> (linli.qr)
_CODE_IN_TEXT = re.compile(r"(/Q/[A-Z]\.[A-Z0-9]+\.)[A-Z0-9]+\.[A-Z0-9]+", re.IGNORECASE)


# an 18-character identity number (resident ID, residence permits, new foreigner's permanent
# residence card) inside text: only its last four are kept
_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])\d{14}(\d{3}[\dXx])(?![0-9A-Za-z])")


def mask_in(text: str) -> str:
    """What the logs write of free text: phones, identity numbers and card codes masked (a diner's
    card code lasts years and opens the diner's meals to whoever holds it)."""
    return mask_phones_in(_ID_IN_TEXT.sub(r"**************\1", _CODE_IN_TEXT.sub(r"\1****", text)))
