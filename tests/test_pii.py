"""Validation of names, phones and resident ID numbers, and masking (个人信息校验)."""

from datetime import date

import pytest

from linli.pii import (
    id_check_char,
    id_number_problem,
    mask_phone,
    mask_phones_in,
    name_problem,
    normalize_id_number,
    normalize_name,
    normalize_phone,
    phone_problem,
)

TODAY = date(2026, 11, 26)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("王秀英", None),
        ("欧阳娜娜", None),
        ("阿依古丽·买买提", None),  # Uyghur name with the middle dot
        ("扎西•多吉", None),  # bullet typed for the dot is normalised to ·
        ("爱新觉罗・溥仪", None),  # katakana middle dot, too
        ("𠀋明", None),  # a rare character from CJK extension B (生僻字)
        ("  张三  ", None),  # surrounding spaces are trimmed
        ("王", "length"),
        ("", "required"),
        ("张" * 21, "length"),
        ("张" * 20, None),
        ("Zhang San", "not_chinese"),
        ("张3", "not_chinese"),
        ("·张三", "not_chinese"),
        ("张三·", "not_chinese"),
        ("张··三", "not_chinese"),
        ("张 三", "not_chinese"),
    ],
)
def test_names(raw, code):
    problem = name_problem(normalize_name(raw))
    assert (problem[0] if problem else None) == code


@pytest.mark.parametrize(
    ("raw", "normal", "code"),
    [
        ("13807310001", "13807310001", None),
        ("+86 138-0731-0001", "13807310001", None),
        ("19912345678", "19912345678", None),
        ("12807310001", "12807310001", "invalid_phone"),  # no mainland mobile starts with 12
        ("1380731000", "1380731000", "invalid_phone"),
        ("138073100011", "138073100011", "invalid_phone"),
        ("1380731000a", "1380731000a", "invalid_phone"),
        ("", "", "required"),
    ],
)
def test_phones(raw, normal, code):
    phone = normalize_phone(raw)
    assert phone == normal
    problem = phone_problem(phone)
    assert (problem[0] if problem else None) == code


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("11010519491231002X", None),  # the standard's own example
        ("11010519491231002x", None),  # lower-case x is accepted and upper-cased
        ("110105194912310021", "invalid_checksum"),
        ("11010519491231002", "invalid_format"),
        ("1101051949123100211", "invalid_format"),
        ("11010519491331002X", "invalid_birth_date"),  # month 13
        ("110105203012310025", "invalid_birth_date"),  # born in the future
        ("11010519490230002X", "invalid_birth_date"),  # 30 February
    ],
)
def test_id_numbers(raw, code):
    problem = id_number_problem(normalize_id_number(raw), TODAY)
    assert (problem[0] if problem else None) == code


def test_check_char_makes_valid_numbers():
    first17 = "43012119800101123"
    assert id_number_problem(first17 + id_check_char(first17), TODAY) is None


def test_masking():
    assert mask_phone("13807310001") == "138****0001"
    text = "sent to 13807310001, +8613912345678 and order 2026112613807310001"
    masked = mask_phones_in(text)
    assert "13807310001," not in masked and "138****0001," in masked
    assert "+86139****5678" in masked
    assert "2026112613807310001" in masked  # a longer number is not a phone
