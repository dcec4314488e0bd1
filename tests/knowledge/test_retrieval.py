"""Retrieval with the real distilled model on the fixture content."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from knowledge.base import KnowledgeBase
from knowledge.content_loader import CONTENT_DIR, load_content
from knowledge.encoders import StudentEncoder
from knowledge.retriever import HybridIndex, RetrievalConfig, Signals, is_kana_only
from tests.knowledge.conftest import FIXTURE_CONTENT

PARAPHRASES = [
    ("家に来たセールスマンと結んだ契約を取り消したい", "consumer.cooling_off.door_to_door"),
    ("不在通知のショートメールが来たけどあやしい", "consumer.phishing_sms"),
    ("一回だけのつもりが毎月商品が届く", "consumer.subscription_trap"),
    ("旦那に暴力をふるわれています", "dv.consult_where"),
    ("生理が遅れていて妊娠が心配", "pregnancy.unexpected"),
    ("粗大ゴミはいつ出せますか", "city.garbage_day"),
    ("らいんでまごにしゃしんをおくりたい", "line.send_photo"),
    ("すまほのもじがちいさい", "phone.text_size"),
]


@pytest.mark.parametrize(("query", "expected"), PARAPHRASES)
def test_paraphrase_finds_entry_at_rank_one(
    fixture_kb: KnowledgeBase, query: str, expected: str
) -> None:
    result = fixture_kb.search(query)
    assert result.best is not None
    assert result.best.doc_id == expected, result.hits


def test_most_paraphrases_are_answered_confidently(fixture_kb: KnowledgeBase) -> None:
    # The threshold is tuned on the real content; on this 8-entry fixture BM25's idf is
    # flatter, so a few right answers may land just under it. Most must clear it.
    confident = sum(fixture_kb.search(query).confident for query, _ in PARAPHRASES)
    assert confident >= len(PARAPHRASES) - 2


def test_english_query_finds_entry_with_english_text(fixture_kb: KnowledgeBase) -> None:
    result = fixture_kb.search("My partner hits me, who can I talk to?", language="en")
    assert result.best is not None and result.best.doc_id == "dv.consult_where"


@pytest.mark.parametrize("query", ["明日の天気を教えて", "おすすめのラーメン屋さんはどこ"])
def test_unrelated_query_is_not_confident(fixture_kb: KnowledgeBase, query: str) -> None:
    assert not fixture_kb.search(query).confident


def test_small_talk_intent_is_never_answered(fixture_kb: KnowledgeBase) -> None:
    query = "クーリングオフしたい"
    assert fixture_kb.search(query).confident
    assert not fixture_kb.search(query, intent="thanks").confident


@pytest.mark.parametrize("query", ["", "   ", "😀😀😀", "a" * 5000, "\x00\n\t", "？？？"])
def test_odd_input_never_raises(fixture_kb: KnowledgeBase, query: str) -> None:
    result = fixture_kb.search(query)
    assert len(result.hits) <= 5
    if not query.strip():
        assert result.hits == () and not result.confident


def test_hits_are_sorted_and_k_is_respected(fixture_kb: KnowledgeBase) -> None:
    result = fixture_kb.search("契約をやめたい", k=3)
    assert len(result.hits) == 3
    scores = [hit.score for hit in result.hits]
    assert scores == sorted(scores, reverse=True)
    assert {"dense", "lexical", "total"} <= set(result.timings_ms)


def test_faq_and_guide_lookup(fixture_kb: KnowledgeBase) -> None:
    assert fixture_kb.faq("dv.consult_where").intent == "dv"
    assert fixture_kb.guide("line.send_photo").asks_platform
    assert not fixture_kb.guide("phone.text_size").asks_platform
    with pytest.raises(KeyError):
        fixture_kb.faq("line.send_photo")


def test_student_is_a_sentence_transformer_that_beats_chance(student: StudentEncoder) -> None:
    vectors = student.encode(["LINEで写真を送りたい", "ラインで画像を送信する方法", "粗大ごみの日"])
    sims = student.similarity(vectors[:1], vectors)
    assert sims[1] > sims[2]
    assert student.model.similarity_fn_name == "dot"


def _index_with(config: RetrievalConfig) -> HybridIndex:
    return HybridIndex(load_content(FIXTURE_CONTENT), None, config)


HOWTO = RetrievalConfig.load()


@pytest.mark.parametrize(
    ("query", "howto"),
    [
        ("充電のやり方", True),
        ("ワイファイのつなぎかた", True),
        ("写真の送り方を教えて", True),
        ("アプリのダウンロードの仕方", True),
        ("How do I charge my phone?", True),
        ("夕方に電話がくる", False),
        ("マイナカードをなくしたらどうすればいい", False),
        ("クーリングオフしたい", False),
        ("相手の方が怒っている", False),
    ],
)
def test_how_to_questions_are_recognised(query: str, howto: bool) -> None:
    assert _index_with(HOWTO).is_howto(query) is howto


def test_a_close_guide_is_ranked_first_only_for_a_how_to_question() -> None:
    index = _index_with(replace(HOWTO, howto_guide_margin=0.05))
    ids = [d.doc_id for d in index.documents]
    faq = next(i for i, d in enumerate(index.documents) if d.kind == "faq")
    guide = next(i for i, d in enumerate(index.documents) if d.kind == "guide")
    fused = np.zeros(len(ids), dtype=np.float32)
    fused[faq], fused[guide] = 0.46, 0.43
    howto = Signals(None, None, english=False, howto=True)
    assert index.order(fused, howto, index.config, 3)[0] == guide
    plain = Signals(None, None, english=False, howto=False)
    assert index.order(fused, plain, index.config, 3)[0] == faq
    fused[guide] = 0.38  # more than the margin behind: the FAQ stays first
    assert index.order(fused, howto, index.config, 3)[0] == faq
    off = replace(index.config, howto_guide_margin=0.0)
    fused[guide] = 0.45
    assert index.order(fused, howto, off, 3)[0] == faq


@pytest.mark.parametrize(
    ("query", "kana"),
    [("らいんの ともだち ついか", True), ("LINEで しゃしん", True), ("ｽﾏﾎ", True), ("文字", False)],
)
def test_kana_only_queries_are_recognised(query: str, kana: bool) -> None:
    assert is_kana_only(query) is kana


@pytest.fixture(scope="module")
def real_kb(student: StudentEncoder, tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    return KnowledgeBase(
        content_dir=CONTENT_DIR,
        encoder=student,
        config=RetrievalConfig.load(),
        index_cache=tmp_path_factory.mktemp("real-kb-index"),
    )


@pytest.mark.parametrize(
    ("query", "guide"),
    [
        ("充電のやり方", "phone.charge"),
        ("文字を大きくするやり方", "phone.text_size"),
        ("ワイファイのつなぎかた", "phone.wifi"),
        ("How do I charge my phone?", "phone.charge"),
    ],
)
def test_short_how_to_requests_start_the_guide_on_the_real_content(
    real_kb: KnowledgeBase, query: str, guide: str
) -> None:
    result = real_kb.search(query, language="en" if query.isascii() else "ja")
    assert result.confident and result.best is not None
    assert (result.best.kind, result.best.doc_id) == ("guide", guide), result.hits
