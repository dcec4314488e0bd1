"""bot/menus.py and bot/content/menus.yml: schema, sync with the rich menu, real KB targets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bot.errors import ContentError
from bot.menus import MENUS_FILE, Choice, MenuKind, Menus, Target
from bot.safety.lexicon import CrisisLexicon
from bot.types import Assessment, SafetyCategory, Urgency
from knowledge.base import KnowledgeBase
from nlu.service import REPO_ROOT
from tests.bot.real_knowledge import real_knowledge

RICHMENU = REPO_ROOT / "channels" / "line" / "richmenu" / "richmenu.json"


@pytest.fixture(scope="module")
def menus() -> Menus:
    return Menus.load()


@pytest.fixture(scope="module")
def kb(kb_model_dir: Path) -> KnowledgeBase:
    return real_knowledge(kb_model_dir)


def richmenu_texts() -> list[str]:
    data = json.loads(RICHMENU.read_text(encoding="utf-8"))
    return [str(area["action"]["text"]) for area in data["areas"]]


def assessment(*reasons: str, categories: tuple[SafetyCategory, ...] = ()) -> Assessment:
    return Assessment(
        intent="human_request",
        confidence=0.99,
        escalate=True,
        urgency=Urgency.HIGH if categories else Urgency.NORMAL,
        categories=categories,
        reasons=reasons,
    )


def write(tmp_path: Path, menus: list[dict[str, object]]) -> Path:
    path = tmp_path / "menus.yml"
    path.write_text(yaml.safe_dump({"version": 1, "menus": menus}, allow_unicode=True))
    return path


def choices_menu(**overrides: object) -> dict[str, object]:
    menu: dict[str, object] = {
        "id": "m",
        "kind": "choices",
        "texts": {"ja": ["メニュー"]},
        "lead": {"ja": "えらんでください", "en": "Choose"},
        "choices": [{"label": {"ja": "ボタン", "en": "Button"}, "target": "faq:x"}],
    }
    menu.update(overrides)
    return menu


# --- sync with the LINE rich menu --------------------------------------------------------


def test_every_rich_menu_text_opens_a_menu_and_every_menu_has_a_button(menus: Menus) -> None:
    opened = []
    for text in richmenu_texts():
        target = menus.match(text)
        assert target is not None and target.kind == "menu", text
        opened.append(target.ref)
    assert sorted(opened) == sorted(m.menu_id for m in menus.menus)


def test_rich_menu_texts_never_fire_the_crisis_lexicon(lexicon: CrisisLexicon) -> None:
    for text in richmenu_texts():
        assert lexicon.match(text) == [], text


def test_only_the_talk_button_is_a_handoff(menus: Menus) -> None:
    kinds = {menus.menu(t.ref).kind for t in map(menus.match, richmenu_texts()) if t}
    handoffs = [m.menu_id for m in menus.menus if m.kind is MenuKind.HANDOFF]
    assert handoffs == ["talk_to_person"] and MenuKind.HOTLINES in kinds
    assert menus.match("人と話したい") == Target("menu", "talk_to_person")


# --- matching ----------------------------------------------------------------------------


def test_matching_is_on_the_whole_normalised_message(menus: Menus) -> None:
    assert menus.match("よくある 質問") == Target("menu", "faq")
    assert menus.match("ﾖｸｱﾙ質問！") == Target("menu", "faq")
    assert menus.match("FREQUENTLY ASKED QUESTIONS") == Target("menu", "faq")
    assert menus.match("よくある質問に答えて") is None
    assert menus.match("スマホの使い方") == Target("menu", "smartphone")


def test_read_withdraws_only_a_classifier_only_request_for_a_person(menus: Menus) -> None:
    phone = "電話で相談できるところ"
    read = menus.read(assessment("intent:human_request"), phone)
    assert not read.escalate and read.reasons[-1] == "tap:menu:phone_lines"
    # The talk button means what the classifier heard.
    assert menus.read(assessment("intent:human_request"), "人と話したい").escalate
    # A crisis-lexicon rule or a safety category always stands.
    lexicon = assessment("lexicon:x", "intent:human_request")
    assert menus.read(lexicon, phone) is lexicon
    dv = assessment("intent:dv", categories=(SafetyCategory.DV,))
    assert menus.read(dv, "DVの相談窓口") is dv
    # Not a menu text: untouched.
    plain = assessment("intent:human_request")
    assert menus.read(plain, "電話で相談できるところを教えてほしい") is plain


# --- schema ------------------------------------------------------------------------------


def test_the_shipped_file_loads_with_labels_for_line(menus: Menus) -> None:
    assert MENUS_FILE.exists()
    for menu in menus.menus:
        assert menu.texts["ja"]
        if menu.kind is not MenuKind.HANDOFF:
            assert set(menu.lead) >= {"ja", "en"}
        assert len(menu.choices) <= 12
        for choice in menu.choices:
            assert all(0 < len(label) <= 20 for label in choice.label.values())


@pytest.mark.parametrize(
    ("menu", "message"),
    [
        (choices_menu(kind="buttons"), "'kind' must be one of"),
        (choices_menu(choices=[]), "'choices' are for"),
        (choices_menu(lead={"ja": "えらんで"}), "needs a text for each of ja, en"),
        (choices_menu(texts={"en": ["Menu"]}), "at least one Japanese text"),
        (
            choices_menu(choices=[{"label": {"ja": "あ" * 21, "en": "x"}, "target": "faq:x"}]),
            "longer than 20",
        ),
        (
            choices_menu(choices=[{"label": {"ja": "あ", "en": "x"}, "target": "page:x"}]),
            "bad target",
        ),
        (
            choices_menu(choices=[{"label": {"ja": "あ", "en": "x"}, "target": "menu:nope"}]),
            "unknown menu",
        ),
        (
            choices_menu(choices=[{"label": {"ja": "メニュー", "en": "x"}, "target": "faq:y"}]),
            "leads to both",
        ),
    ],
)
def test_mistakes_fail_at_load(tmp_path: Path, menu: dict[str, object], message: str) -> None:
    with pytest.raises(ContentError, match=message):
        Menus.load(write(tmp_path, [menu]))


def test_a_label_may_repeat_with_the_same_target(tmp_path: Path) -> None:
    second = choices_menu(id="n", texts={"ja": ["べつ"]})
    loaded = Menus.load(write(tmp_path, [choices_menu(), second]))
    assert loaded.match("ボタン") == Target("faq", "x")


def test_duplicate_menu_ids_fail(tmp_path: Path) -> None:
    with pytest.raises(ContentError, match="duplicate menu ids"):
        Menus.load(write(tmp_path, [choices_menu(), choices_menu(texts={"ja": ["べつ"]})]))


# --- every button leads to the real knowledge base ---------------------------------------


def kb_choices() -> list[Choice]:
    unique = {str(c.target): c for c in Menus.load().choices() if c.target.kind != "menu"}
    return list(unique.values())


@pytest.mark.parametrize("choice", kb_choices(), ids=lambda c: str(c.target))
def test_every_button_target_exists_and_the_retriever_finds_it(
    kb: KnowledgeBase, choice: Choice
) -> None:
    target = choice.target
    if target.kind == "faq":
        intent = kb.faq(target.ref).intent
    else:
        guide = kb.guide(target.ref)
        assert guide.steps and all(guide.steps.values())
        intent = guide.intent
    # Typed instead of tapped, the Japanese label finds the same page (with and without
    # the NLU's intent as a prior), so a tap and the typed words get the same answer.
    for prior in (None, intent):
        result = kb.search(choice.label["ja"], intent=prior, language="ja")
        assert result.confident and result.best is not None, (choice.label["ja"], prior)
        assert (result.best.kind, result.best.doc_id) == (target.kind, target.ref)
    # The English label is at least understood (some entries are Japanese only).
    english = kb.search(choice.label["en"], language="en")
    assert english.confident and english.best is not None, choice.label["en"]


def test_menu_targets_lead_to_menus_with_choices(menus: Menus) -> None:
    for choice in menus.choices():
        if choice.target.kind == "menu":
            assert menus.menu(choice.target.ref).kind is MenuKind.CHOICES
