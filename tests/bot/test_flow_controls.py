"""Control words as residents type them: kanji, hiragana, katakana, width, dialect, English."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ContentError
from bot.flows.controls import CONTROLS_FILE, Control, FlowControls, PlatformWord, default_controls
from bot.responses import Responses

C = Control

TYPED: list[tuple[str, Control]] = [
    # できた
    *[
        (t, C.DONE)
        for t in [
            "できた",
            "できました",
            "でけた",
            "出来た",
            "デキタ",
            "ﾃﾞｷﾀ",
            "できた！",
            "できたよ",
            "できたよー",
            "できたで",
            "できたばい",
            "OK",
            "ok",
            "ＯＫ",
            "はい",
            "done",
            "Done",
            "Done.",
            "I did it",
            "できた👍",
        ]
    ],
    # わからない
    *[
        (t, C.UNSURE)
        for t in [
            "わからない",
            "分からない",
            "わかりません",
            "わからん",
            "わがんね",
            "わからへん",
            "ワカラナイ",
            "わからないです",
            "わからんです",
            "わからんわ",
            "むずかしい",
            "難しい",
            "できない",
            "でけへん",
            "I don't understand",
            "i dont understand",
            "I don’t understand",
        ]
    ],
    # もう一回
    *[
        (t, C.AGAIN)
        for t in [
            "もう一回",
            "もう１回",
            "もういっかい",
            "モウイッカイ",
            "もういっぺん",
            "もう一度",
            "もういちど",
            "again",
            "Again!",
        ]
    ],
    # 前へ
    *[(t, C.BACK) for t in ["前へ", "まえ", "まえへ", "もどる", "戻る", "back", "Back"]],
    # 最初から
    *[
        (t, C.RESTART)
        for t in ["最初から", "さいしょから", "はじめから", "start over", "Start Over"]
    ],
    # やめる
    *[
        (t, C.STOP)
        for t in [
            "やめる",
            "やめます",
            "ヤメル",
            "もういい",
            "もういいです",
            "終わり",
            "おわり",
            "stop",
            "STOP",
        ]
    ],
    # 人と話す
    *[(t, C.HUMAN) for t in ["人と話す", "ひととはなす", "Talk to a person"]],
    # つづき
    *[(t, C.YES) for t in ["はい", "つづきから", "続き", "yes", "Yes"]],
]


@pytest.fixture(scope="module")
def controls() -> FlowControls:
    return default_controls()


@pytest.mark.parametrize(("text", "expected"), TYPED)
def test_typed_forms_are_understood(controls: FlowControls, text: str, expected: Control) -> None:
    assert expected in controls.recognise(text)


@pytest.mark.parametrize(
    "text",
    [
        "もう終わりにしたい",
        "全部終わりにしたい",
        "LINEで写真を送りたい",
        "できたら教えてください",
        "わからないことがあって電話したい",
        "まえに買った布団の解約",
        "",
        "   ",
        "👍",
    ],
)
def test_sentences_containing_a_word_are_not_controls(controls: FlowControls, text: str) -> None:
    assert controls.recognise(text) == frozenset()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("よし、できました", True),
        ("うん。わからん", True),
        ("ええ、もう一回", True),
        ("やっぱり わからない", True),  # a lead-in before the button word
        ("ほな頼むわ", True),
        ("あかん、さっぱりわからへん", True),
    ],
)
def test_an_interjection_beside_a_button_word_is_skipped(
    controls: FlowControls, text: str, expected: bool
) -> None:
    assert controls.is_guide_answer(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Regional sentence-final particles are tone only (one is dropped, like よ/ね).
        ("わからんがね", C.UNSURE),
        ("もういっぺんずら", C.AGAIN),
        ("できましたっす", C.DONE),
        ("できたっぺ", C.DONE),
        ("わがんねっしょ", C.UNSURE),
        ("さいしょからさー", C.RESTART),
        # Thanks after the button word, 「ぜんぶ／これも」 before it.
        ("できました、ありがとうございます", C.DONE),
        ("これもできた", C.DONE),
        ("done, thanks", C.DONE),
        # English phrases after an interjection part.
        ("oh wait, go back a step", C.BACK),
        ("sorry I'm lost", C.UNSURE),
    ],
)
def test_dialect_particles_thanks_and_english_phrases(
    controls: FlowControls, text: str, expected: Control
) -> None:
    assert expected in controls.recognise(text)
    assert controls.is_guide_answer(text)


@pytest.mark.parametrize(
    "text",
    ["できたかもしれん", "赤ちゃんができたがね、どうしよう", "やめたいき", "もう生きとうないき"],
)
def test_particles_never_make_news_or_despair_a_button(controls: FlowControls, text: str) -> None:
    assert not controls.is_guide_answer(text)


@pytest.mark.parametrize(("text", "expected"), [("andoroido desu", "android"), ("aifon", "iphone")])
def test_romaji_platform_names(controls: FlowControls, text: str, expected: str) -> None:
    assert controls.platform(text) == expected


@pytest.mark.parametrize(
    "text", ["うん、もう無理", "よし、死のう", "あ、たすけて", "まだ死にたい", "やっぱりやめたい"]
)
def test_an_interjection_never_turns_other_words_into_buttons(
    controls: FlowControls, text: str
) -> None:
    assert not controls.is_guide_answer(text)


def test_hai_means_done_and_yes(controls: FlowControls) -> None:
    assert controls.recognise("はい") == {C.DONE, C.YES}
    assert controls.recognise("できた") == {C.DONE}


@pytest.mark.parametrize("language", ["ja", "en"])
def test_every_button_label_is_understood_when_tapped(
    controls: FlowControls, responses: Responses, language: str
) -> None:
    step = responses.quick_replies(language, "flow_step")
    assert [sorted(controls.recognise(label)) for label in step] == [
        [C.DONE],
        [C.UNSURE],
        [C.AGAIN],
        [C.BACK],
        [C.RESTART],
        [C.STOP],
    ]
    resume = responses.quick_replies(language, "flow_resume")
    assert C.YES in controls.recognise(resume[0])
    assert C.RESTART in controls.recognise(resume[1])
    assert C.STOP in controls.recognise(resume[2])
    for label in responses.quick_replies(language, "flow_human") + responses.quick_replies(
        language
    ):
        assert C.HUMAN in controls.recognise(label)
    iphone, android, unsure, stop = responses.quick_replies(language, "flow_platform")
    assert controls.platform(iphone) is PlatformWord.IPHONE
    assert controls.platform(android) is PlatformWord.ANDROID
    assert C.UNSURE in controls.recognise(unsure) and C.STOP in controls.recognise(stop)
    again, person = responses.quick_replies(language, "flow_after")
    assert C.RESTART in controls.recognise(again) and C.HUMAN in controls.recognise(person)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("iPhone", PlatformWord.IPHONE),
        ("ｉＰｈｏｎｅです", PlatformWord.IPHONE),
        ("あいふぉん", PlatformWord.IPHONE),
        ("わたしのは アイフォンです", PlatformWord.IPHONE),
        ("Android", PlatformWord.ANDROID),
        ("あんどろいど", PlatformWord.ANDROID),
        ("らくらくスマホ", PlatformWord.ANDROID),
        ("iPhoneかAndroidかわからない", None),
        ("わからない", None),
    ],
)
def test_platform_names(controls: FlowControls, text: str, expected: PlatformWord | None) -> None:
    assert controls.platform(text) is expected


def test_handoff_pool_exists_in_routing(controls: FlowControls) -> None:
    import yaml

    from handoff.queue import ROUTING_FILE

    pools = yaml.safe_load(ROUTING_FILE.read_text(encoding="utf-8"))["pools"]
    assert controls.handoff_pool in pools


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "controls.yml"
    path.write_text(body, encoding="utf-8")
    return path


def test_loader_rejects_unquoted_yes(tmp_path: Path) -> None:
    text = default_controls_text().replace('    - "yes"', "    - yes", 1)
    with pytest.raises(ContentError, match="quote"):
        FlowControls.load(_write(tmp_path, text))


def test_loader_rejects_unknown_control(tmp_path: Path) -> None:
    text = default_controls_text().replace("controls:\n", "controls:\n  dance: [おどる]\n", 1)
    with pytest.raises(ContentError, match="dance"):
        FlowControls.load(_write(tmp_path, text))


def default_controls_text() -> str:
    from bot.flows.controls import CONTROLS_FILE

    return CONTROLS_FILE.read_text(encoding="utf-8")


def test_exact_platform_needs_the_bare_name(controls: FlowControls) -> None:
    assert controls.exact_platform("アイフォンです") is PlatformWord.IPHONE
    assert controls.exact_platform("ｱﾝﾄﾞﾛｲﾄﾞ") is PlatformWord.ANDROID
    assert controls.exact_platform("iPhoneで写真を撮りたい") is None
    assert controls.is_guide_answer("アイフォンです")
    assert not controls.is_guide_answer("iPhoneで写真を撮りたい")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("できた", True),
        ("うん、できたよ", True),
        ("もう一回", True),
        ("Androidです", True),
        ("hmm, done", True),
        # Can voice despair alone, or tell news: not harmless without a guide.
        ("無理", False),
        ("もういい", False),
        ("help", False),
        ("全部終わった", False),
        ("できちゃった", False),
        ("赤ちゃんできた", False),
        ("できたかも", False),
    ],
)
def test_harmless_alone_is_a_closed_list(controls: FlowControls, text: str, expected: bool) -> None:
    assert controls.is_harmless_alone(text) is expected


@pytest.mark.parametrize(
    ("key", "stray"),
    [("harmless_alone", "ほげほげ"), ("stop_with_remark", "できた")],
)
def test_loader_rejects_lists_naming_the_wrong_words(tmp_path: Path, key: str, stray: str) -> None:
    """harmless_alone may only name control words, stop_with_remark only stop words."""
    text = CONTROLS_FILE.read_text(encoding="utf-8").replace(f"{key}: [", f"{key}: [{stray}, ", 1)
    path = tmp_path / "controls.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ContentError, match=key):
        FlowControls.load(path)


@pytest.mark.parametrize("text", ["えっと", "えーと…", "うーん、ちょっと待って", "hmm", "あのー"])
def test_fillers_say_nothing(controls: FlowControls, text: str) -> None:
    assert controls.says_nothing(text)


@pytest.mark.parametrize("text", ["えっと、充電のやり方", "あの画面", "待って、死にたい", "", "。"])
def test_a_filler_beside_words_still_says_something(controls: FlowControls, text: str) -> None:
    assert not controls.says_nothing(text)


@pytest.mark.parametrize(
    ("text", "meaning"),
    [
        # Kana typed with a space between words: each sentence is read whole.
        ("いいです だいじょうぶ。じぶんで もういっかい みる", {C.NO}),
        ("いえ けっこうです。 じぶんで やってみる", {C.NO}),
        # 栃木 (だいじ = いい) with a lead-in: yes, and a person.
        ("んだらお願いすっぺ。人に聞いた方がだいじだっぺ", {C.YES, C.HUMAN}),
    ],
)
def test_sentences_each_a_control_word(
    controls: FlowControls, text: str, meaning: set[Control]
) -> None:
    assert controls.recognise(text) == meaning


@pytest.mark.parametrize("text", ["もう いい。 しぬ", "いいです。 もう つかれた きえたい"])
def test_a_sentence_with_other_words_is_no_control(controls: FlowControls, text: str) -> None:
    assert controls.recognise(text) == frozenset()
