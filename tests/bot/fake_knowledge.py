"""A tiny in-memory KnowledgeSource for bot tests: scripted hits, real Guide/FaqEntry types."""

from __future__ import annotations

from datetime import date

from knowledge.types import FaqEntry, Guide, GuideStep, Hit, Platform, SearchResult


def step(n: int, prefix: str = "") -> GuideStep:
    return GuideStep(
        text={"ja": f"{prefix}ステップ{n}の せつめい", "en": f"{prefix}step {n} text"},
        simpler={"ja": f"{prefix}ステップ{n}を もっと やさしく", "en": f"{prefix}step {n} simpler"},
    )


def make_guide(guide_id: str, *, per_platform: bool, steps: int = 3) -> Guide:
    by_platform: dict[Platform, tuple[GuideStep, ...]]
    if per_platform:
        by_platform = {
            "android": tuple(step(i, "A") for i in range(1, steps + 1)),
            "iphone": tuple(step(i, "I") for i in range(1, steps + 1)),
        }
    else:
        by_platform = {"any": tuple(step(i) for i in range(1, steps + 1))}
    return Guide(
        guide_id=guide_id,
        intent="smartphone_help",
        title={"ja": f"ガイド{guide_id}", "en": f"Guide {guide_id}"},
        phrasings={"ja": ("x", "y", "z")},
        steps=by_platform,
        tags=(),
        source="test",
        last_reviewed=date(2026, 11, 21),
    )


CONSUMER_FAQ = FaqEntry(
    entry_id="consumer.cooling_off",
    intent="consumer_trouble",
    title={"ja": "クーリング・オフ"},
    answer={
        "ja": "8日以内なら クーリング・オフが できます。188に 電話してください。",
        "en": "You can cancel within 8 days. Call 188.",
    },
    phrasings={"ja": ("a", "b", "c")},
    tags=(),
    source="test",
    last_reviewed=date(2026, 11, 21),
)
JA_ONLY_FAQ = FaqEntry(
    entry_id="local.garbage",
    intent="out_of_scope",
    title={"ja": "ごみの日"},
    answer={"ja": "ごみの日は 市の ホームページに あります。"},
    phrasings={"ja": ("a", "b", "c")},
    tags=(),
    source="test",
    last_reviewed=date(2026, 11, 21),
)


class FakeKnowledge:
    """Answers by keyword: a query containing a route key is a confident hit on its doc."""

    def __init__(self) -> None:
        self.faqs = {e.entry_id: e for e in (CONSUMER_FAQ, JA_ONLY_FAQ)}
        self.guides = {
            g.guide_id: g
            for g in (
                make_guide("line.send_photo", per_platform=True),
                make_guide("phone.font_size", per_platform=False),
            )
        }
        self.routes: dict[str, Hit] = {
            "クーリング": Hit("faq", "consumer.cooling_off", 0.9),
            "cooling": Hit("faq", "consumer.cooling_off", 0.9),
            "ごみ": Hit("faq", "local.garbage", 0.9),
            "garbage": Hit("faq", "local.garbage", 0.9),
            "写真": Hit("guide", "line.send_photo", 0.9),
            "photo": Hit("guide", "line.send_photo", 0.9),
            "文字": Hit("guide", "phone.font_size", 0.9),
            "font": Hit("guide", "phone.font_size", 0.9),
        }
        self.searches: list[tuple[str, str | None, str]] = []

    def search(
        self, query: str, *, intent: str | None = None, language: str = "ja", k: int = 5
    ) -> SearchResult:
        self.searches.append((query, intent, language))
        for key, hit in self.routes.items():
            if key in query:
                return SearchResult(hits=(hit,), confident=True)
        weak = Hit("faq", "local.garbage", 0.1)
        return SearchResult(hits=(weak,), confident=False)

    def faq(self, entry_id: str) -> FaqEntry:
        return self.faqs[entry_id]

    def guide(self, guide_id: str) -> Guide:
        return self.guides[guide_id]
