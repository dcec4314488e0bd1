"""Japanese PII redaction: checksums, formats from requirements §4, offsets, failing closed."""

from __future__ import annotations

import pytest

from privacy import redact as redact_module
from privacy.redact import (
    DROPPED,
    find_pii,
    luhn_is_valid,
    mask_my_numbers,
    my_number_is_valid,
    redact,
    redact_or_drop,
)


def test_my_number_check_digit() -> None:
    assert my_number_is_valid("123456789018")  # the example in the requirements
    assert not my_number_is_valid("123456789012")
    assert not my_number_is_valid("12345678901")


def test_luhn() -> None:
    assert luhn_is_valid("4111111111111111")
    assert not luhn_is_valid("4111111111111112")


@pytest.mark.parametrize(
    ("text", "entity"),
    [
        ("電話は090-1234-5678です", "phone"),
        ("電話は０９０ー１２３４ー５６７８です", "phone"),  # full width, long-vowel separators
        ("070 1234 5678", "phone"),
        ("08012345678に電話して", "phone"),
        ("050-3123-4567", "phone"),
        ("0120-123-456", "phone"),
        ("0800-123-4567", "phone"),
        ("0570-123-456", "phone"),
        ("03-1234-5678", "phone"),
        ("059-224-1234", "phone"),
        ("0598-21-1234", "phone"),
        ("+81-90-1234-5678", "phone"),
        ("+81 3 1234 5678", "phone"),
        ("〒514-0006", "postal_code"),
        ("郵便番号5140006", "postal_code"),
        ("taro.yamada@example.co.jp に送って", "email"),
        ("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ", "email"),
        ("U0123456789abcdef0123456789abcdef", "line_user_id"),
        ("カード 4111-1111-1111-1111", "card_number"),
        ("マイナンバーは1234 5678 9018です", "my_number"),
        ("口座番号は普通1234567です", "bank_account"),
        ("生年月日は昭和55年3月2日です", "birth_date"),
        ("1980年3月2日生まれ", "birth_date"),
        ("住所は三重県津市広明町13番地です", "address"),
        ("東京都新宿区西新宿2丁目8-1", "address"),
        ("私は田中花子です", "person_name"),
        ("夫の健一が怒鳴る", "person_name"),
        ("娘の和子が入院しました", "person_name"),  # a given name ending in 子
        ("祖父の学が来た", "person_name"),
    ],
)
def test_entities_are_found(text: str, entity: str) -> None:
    assert entity in {f.entity for f in find_pii(text)}, redact(text)


@pytest.mark.parametrize(
    "text",
    [
        "1,980円のお試しのはずが12,800円請求された",
        "11月3日のお祭りは何時から？",
        "2026年4月1日から手続きが変わります",
        "13:30に予約しました",
        "注文番号 2026112101",
        "型番はKJ-55X9500Hです",
        "DV相談＋ 0120-279-889 に電話した",
        "消費者ホットライン188",
        "お母さんに相談した",
        "相談員さんと話したい",
        "お子さんは元気です",
        "女の子が泣いていた",
        "父の年金の手続きを手伝いたい",
        "123456789012",  # twelve digits, wrong check digit
    ],
)
def test_pii_like_text_is_left_alone(text: str) -> None:
    assert find_pii(text) == [], redact(text)


def test_offsets_refer_to_the_original_text() -> None:
    text = "連絡先：０９０－１２３４－５６７８まで"
    [finding] = find_pii(text)
    assert text[finding.start : finding.end] == "０９０－１２３４－５６７８"
    assert redact(text) == "連絡先：[phone]まで"


def test_mask_my_numbers_touches_only_my_numbers() -> None:
    assert mask_my_numbers("番号 1234-5678-9018、電話090-1234-5678") == (
        "番号 [my_number]、電話090-1234-5678"
    )


def test_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_text: str) -> list[object]:
        raise RuntimeError("boom")

    monkeypatch.setattr(redact_module, "find_pii", broken)
    assert redact_or_drop("田中花子 090-1234-5678") == DROPPED
