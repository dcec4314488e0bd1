import pytest

from nlu.normalize import matching_form, normalize, to_hiragana


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ｽﾏﾎ", "スマホ"),  # half-width katakana
        ("ＬＩＮＥ", "line"),  # full-width Latin, case folded
        ("しにたーーい", "しにたい"),  # long vowel after hiragana is elongation
        ("たすけてええええ", "たすけてえ"),  # runs of 3+ collapse
        ("ラーメン", "ラーメン"),  # a real katakana long vowel stays
        ("いい天気", "いい天気"),  # doubled letters are real words
        ("０９０ー１２３４ー５６７８", "090-1234-5678"),  # hyphen-like between digits
        ("  夫に   殴られた \n", "夫に 殴られた"),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_to_hiragana_folds_katakana_only() -> None:
    assert to_hiragana("スマホとLINE漢字") == "すまほとLINE漢字"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("ｼﾆﾀｲ", "しにたい"),
        ("し に た い", "しにたい"),
        ("死・に・た・い", "死にたい"),
        ("ﾀﾋにたい", "たひにたい"),
        ("キエタイ…", "きえたい"),
    ],
)
def test_matching_form_defeats_simple_obfuscation(a: str, b: str) -> None:
    assert matching_form(a) == matching_form(b)
