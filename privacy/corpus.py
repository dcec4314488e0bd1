"""Synthetic Japanese PII corpus: resident messages with labelled PII spans and decoys.

The corpus is the benchmark for the redactor, so it is built independently of it.  Every
message is assembled from pieces (plain text, a PII span or a decoy), so offsets are exact.

Labelling conventions (offsets index the raw text, before any normalisation):

* a span covers the value only, never its context: ``〒``, ``郵便番号``, ``口座番号は普通``,
  ``生年月日は``, ``さん``, ``様``, ``くん`` and the like stay outside;
* phone numbers include their own punctuation (``+81``, brackets around the area code);
* addresses include building and room (``メゾン梅田305号室``);
* decoys are PII-like values that must survive redaction (prices, event dates, times,
  order and model numbers, public hotlines such as ``188`` or ``#9110``, place names alone);
* every digit in a message lies inside a span or a decoy.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import sys
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from privacy.entities import ENTITY_TYPES


@dataclass(frozen=True)
class Span:
    """A labelled character range of `Sample.text`."""

    start: int
    end: int
    entity: str


@dataclass(frozen=True)
class Sample:
    """One synthetic message with its PII spans and its PII-like decoys."""

    text: str
    spans: tuple[Span, ...]
    decoys: tuple[Span, ...]


# --------------------------------------------------------------------------- pieces


@dataclass(frozen=True)
class _Piece:
    text: str
    label: str | None = None
    decoy: bool = False


def _plain(text: str) -> _Piece:
    return _Piece(text)


def _dec(text: str, kind: str) -> _Piece:
    return _Piece(text, kind, True)


# --------------------------------------------------------------------------- width helpers

_FULLWIDTH = {c: c + 0xFEE0 for c in range(0x21, 0x7F)}


def _fw(text: str) -> str:
    """Full-width form of every printable ASCII character (spaces kept)."""
    return text.translate(_FULLWIDTH)


def _fw_digits(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "0" <= c <= "9" else c for c in text)


def _hiragana(kana: str) -> str:
    return "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in kana)


def _build_halfwidth_kana() -> dict[str, str]:
    table: dict[str, str] = {}
    for code in range(0xFF66, 0xFF9E):
        half = chr(code)
        full = unicodedata.normalize("NFKC", half)
        table.setdefault(full, half)
        for mark, half_mark in (("\u3099", "ﾞ"), ("\u309a", "ﾟ")):
            composed = unicodedata.normalize("NFC", full + mark)
            if len(composed) == 1:
                table.setdefault(composed, half + half_mark)
    return table


_HALF_KANA = _build_halfwidth_kana()


def _halfwidth_kana(kana: str) -> str:
    return "".join(_HALF_KANA.get(c, c) for c in kana)


# --------------------------------------------------------------------------- names

_SURNAMES_RAW = """
佐藤 サトウ sato|鈴木 スズキ suzuki|高橋 タカハシ takahashi|田中 タナカ tanaka
伊藤 イトウ ito|渡辺 ワタナベ watanabe|山本 ヤマモト yamamoto|中村 ナカムラ nakamura
小林 コバヤシ kobayashi|加藤 カトウ kato|吉田 ヨシダ yoshida|山田 ヤマダ yamada
佐々木 ササキ sasaki|山口 ヤマグチ yamaguchi|松本 マツモト matsumoto|井上 イノウエ inoue
木村 キムラ kimura|林 ハヤシ hayashi|斎藤 サイトウ saito|清水 シミズ shimizu
山崎 ヤマザキ yamazaki|森 モリ mori|池田 イケダ ikeda|橋本 ハシモト hashimoto|阿部 アベ abe
石川 イシカワ ishikawa|山下 ヤマシタ yamashita|中島 ナカジマ nakajima|石井 イシイ ishii
小川 オガワ ogawa|前田 マエダ maeda|岡田 オカダ okada|長谷川 ハセガワ hasegawa
藤田 フジタ fujita|後藤 ゴトウ goto|近藤 コンドウ kondo|村上 ムラカミ murakami
遠藤 エンドウ endo|青木 アオキ aoki|坂本 サカモト sakamoto|斉藤 サイトウ saito
福田 フクダ fukuda|太田 オオタ ota|西村 ニシムラ nishimura|藤井 フジイ fujii
金子 カネコ kaneko|岡本 オカモト okamoto|藤原 フジワラ fujiwara|中野 ナカノ nakano
三浦 ミウラ miura|原田 ハラダ harada|中川 ナカガワ nakagawa|松田 マツダ matsuda
竹内 タケウチ takeuchi|小野 オノ ono|田村 タムラ tamura|中山 ナカヤマ nakayama
和田 ワダ wada|石田 イシダ ishida|森田 モリタ morita|上田 ウエダ ueda|原 ハラ hara
柴田 シバタ shibata|酒井 サカイ sakai|工藤 クドウ kudo|横山 ヨコヤマ yokoyama
宮崎 ミヤザキ miyazaki|宮本 ミヤモト miyamoto|内田 ウチダ uchida|高木 タカギ takagi
谷口 タニグチ taniguchi|安藤 アンドウ ando|丸山 マルヤマ maruyama|今井 イマイ imai
大野 オオノ ono|服部 ハットリ hattori|水谷 ミズタニ mizutani|奥田 オクダ okuda|辻 ツジ tsuji
伊勢谷 イセヤ iseya|東 ヒガシ higashi|浅野 アサノ asano|野呂 ノロ noro|世古 セコ seko
"""

_GIVEN_RAW = """
花子 ハナコ hanako f|陽菜 ヒナ hina f|結衣 ユイ yui f|美咲 ミサキ misaki f
さくら サクラ sakura f|葵 アオイ aoi u|凛 リン rin f|結菜 ユイナ yuina f|美優 ミユ miyu f
彩 アヤ aya f|恵子 ケイコ keiko f|洋子 ヨウコ yoko f|幸子 サチコ sachiko f
和子 カズコ kazuko f|久美子 クミコ kumiko f|由美 ユミ yumi f|真由美 マユミ mayumi f
智子 トモコ tomoko f|裕子 ユウコ yuko f|直美 ナオミ naomi f|明美 アケミ akemi f
千尋 チヒロ chihiro u|舞 マイ mai f|愛 アイ ai f|真央 マオ mao f|芽依 メイ mei f
紬 ツムギ tsumugi f|陽葵 ヒマリ himari f|莉子 リコ riko f|あかり アカリ akari f
美穂 ミホ miho f|香織 カオリ kaori f|早苗 サナエ sanae f|静香 シズカ shizuka f
文子 フミコ fumiko f|ミキ ミキ miki f|節子 セツコ setsuko f|健太 ケンタ kenta m
翔太 ショウタ shota m|大輔 ダイスケ daisuke m|拓也 タクヤ takuya m|一郎 イチロウ ichiro m
誠 マコト makoto m|浩 ヒロシ hiroshi m|隆 タカシ takashi m|剛 ツヨシ tsuyoshi m
茂 シゲル shigeru m|勝 マサル masaru m|学 マナブ manabu m|悠真 ユウマ yuma m|蓮 レン ren m
湊 ミナト minato m|陽翔 ハルト haruto m|大翔 ヒロト hiroto m|悠斗 ユウト yuto m
颯太 ソウタ sota m|蒼 アオイ aoi m|健一 ケンイチ kenichi m|修 オサム osamu m
清 キヨシ kiyoshi m|博之 ヒロユキ hiroyuki m|和也 カズヤ kazuya m|直樹 ナオキ naoki m
達也 タツヤ tatsuya m|雄太 ユウタ yuta m|亮 リョウ ryo m|樹 イツキ itsuki m
正男 マサオ masao m|義雄 ヨシオ yoshio m|翼 ツバサ tsubasa m|大和 ヤマト yamato m
ゆうき ユウキ yuki m|ケン ケン ken m
"""


@dataclass(frozen=True)
class _Name:
    kanji: str
    kana: str
    romaji: str
    gender: str  # "m", "f", or "u" (either); "" for surnames


def _parse_names(raw: str) -> tuple[_Name, ...]:
    names: list[_Name] = []
    for entry in raw.replace("\n", "|").split("|"):
        fields = entry.split()
        if fields:
            gender = fields[3] if len(fields) > 3 else ""
            names.append(_Name(fields[0], fields[1], fields[2], gender))
    return tuple(names)


_SURNAMES = _parse_names(_SURNAMES_RAW)
_GIVEN = _parse_names(_GIVEN_RAW)

# --------------------------------------------------------------------------- places


@dataclass(frozen=True)
class _Place:
    pref: str
    city: str
    towns: tuple[str, ...]
    postal3: str


_PLACES = (
    _Place(
        "三重県",
        "津市",
        ("広明町", "栄町", "丸之内", "大谷町", "一身田町", "久居新町", "島崎町", "南が丘"),
        "514",
    ),
    _Place("三重県", "四日市市", ("諏訪町", "安島", "鵜の森", "日永", "富田"), "510"),
    _Place("三重県", "鈴鹿市", ("神戸", "白子町", "算所", "平田"), "513"),
    _Place("三重県", "松阪市", ("殿町", "京町", "川井町", "嬉野町"), "515"),
    _Place("三重県", "伊勢市", ("岩渕", "本町", "宮後", "小俣町"), "516"),
    _Place("三重県", "桑名市", ("中央町", "大山田", "長島町"), "511"),
    _Place("三重県", "伊賀市", ("上野丸之内", "緑ケ丘本町"), "518"),
    _Place("三重県", "名張市", ("鴻之台", "桔梗が丘"), "518"),
    _Place("三重県", "亀山市", ("本丸町", "関町"), "519"),
    _Place("三重県", "志摩市", ("阿児町鵜方", "磯部町"), "517"),
    _Place("東京都", "新宿区", ("西新宿", "歌舞伎町", "高田馬場", "四谷"), "160"),
    _Place("東京都", "世田谷区", ("三軒茶屋", "太子堂", "北沢"), "154"),
    _Place("東京都", "練馬区", ("豊玉北", "光が丘"), "176"),
    _Place("東京都", "八王子市", ("元本郷町", "旭町"), "192"),
    _Place("大阪府", "大阪市北区", ("梅田", "天神橋", "中之島"), "530"),
    _Place("大阪府", "大阪市中央区", ("難波", "本町", "心斎橋筋"), "542"),
    _Place("大阪府", "堺市堺区", ("南瓦町", "大浜北町"), "590"),
    _Place("愛知県", "名古屋市中区", ("栄", "錦", "三の丸"), "460"),
    _Place("愛知県", "豊田市", ("西町", "若宮町"), "471"),
    _Place("神奈川県", "横浜市西区", ("みなとみらい", "高島", "北幸"), "220"),
    _Place("神奈川県", "川崎市川崎区", ("宮本町", "砂子"), "210"),
    _Place("北海道", "札幌市中央区", ("大通西", "南三条西"), "060"),
    _Place("福岡県", "福岡市博多区", ("博多駅前", "中洲", "住吉"), "812"),
    _Place("宮城県", "仙台市青葉区", ("国分町", "本町", "一番町"), "980"),
    _Place("広島県", "広島市中区", ("基町", "紙屋町", "八丁堀"), "730"),
    _Place("沖縄県", "那覇市", ("泉崎", "久茂地", "おもろまち"), "900"),
    _Place("奈良県", "奈良市", ("二条大路南", "三条本町"), "630"),
    _Place("岐阜県", "岐阜市", ("今沢町", "神田町"), "500"),
    _Place("滋賀県", "大津市", ("京町", "浜大津"), "520"),
    _Place("和歌山県", "和歌山市", ("七番丁", "本町"), "640"),
)

_BANKS = (
    "三重",
    "百五",
    "三十三",
    "みずほ",
    "三菱UFJ",
    "三井住友",
    "りそな",
    "名古屋",
    "十六",
    "大垣共立",
)
_BRANCHES = (
    "津",
    "本店営業部",
    "四日市",
    "鈴鹿",
    "松阪",
    "伊勢",
    "桑名",
    "久居",
    "名張",
    "新宿",
    "梅田",
    "栄",
)

# Public numbers: decoys, never PII.  (ja name, en name, number)
_HOTLINES = (
    ("消費者ホットライン", "the consumer hotline", "188"),
    ("児童相談所の虐待対応ダイヤル", "the child abuse hotline", "189"),
    ("警察相談専用電話", "the police consultation line", "#9110"),
    ("救急安心センター", "the emergency advice line", "#7119"),
    ("子ども医療電話相談", "the pediatric advice line", "#8000"),
    ("DV相談ナビ", "DV Soudan Navi", "#8008"),
    ("ワンストップ支援センター", "the one-stop support center", "#8891"),
    ("警察", "the police", "110"),
    ("救急", "the ambulance", "119"),
    ("DV相談＋", "DV Soudan Plus", "0120-279-889"),
    ("よりそいホットライン", "the Yorisoi Hotline", "0120-279-338"),
    ("こころの健康相談統一ダイヤル", "the mental health line", "0570-064-556"),
)
_HOTLINE_DIGITS = frozenset(re.sub(r"\D", "", h[2]) for h in _HOTLINES)

# --------------------------------------------------------------------------- context


@dataclass
class _Ctx:
    rng: random.Random
    lang: str
    surname: _Name
    given: _Name
    place: _Place
    addresses: int = 0

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, options: tuple[str, ...], weights: tuple[float, ...]) -> str:
        return self.rng.choices(options, weights)[0]


def _new_ctx(rng: random.Random, lang: str) -> _Ctx:
    return _Ctx(rng, lang, rng.choice(_SURNAMES), rng.choice(_GIVEN), rng.choice(_PLACES))


def _pii(ctx: _Ctx, text: str, entity: str) -> list[_Piece]:
    """A PII piece, sometimes padded with stray half- or full-width spaces."""
    pieces = [_Piece(text, entity)]
    if ctx.lang == "ja" and ctx.chance(0.07):
        pad = _plain(ctx.rng.choice((" ", "\u3000")))
        where = ctx.rng.randrange(3)
        if where != 1:
            pieces.insert(0, pad)
        if where != 0:
            pieces.append(pad)
    return pieces


def _digits(rng: random.Random, n: int, first_nonzero: bool = False) -> str:
    out = [str(rng.randrange(10)) for _ in range(n)]
    if first_nonzero and n:
        out[0] = str(rng.randint(1, 9))
    return "".join(out)


# --------------------------------------------------------------------------- PII generators

_SEPARATORS = ("-", "ー", "－", "−", "‐", " ", "", "()")
_SEP_WEIGHTS = (46, 7, 7, 5, 2, 10, 13, 10)


_AREA_CODES = (
    "03", "06", "011", "022", "045", "052", "059", "075", "078", "082", "092", "098",
    "0598", "0595", "0594", "0596", "0599", "0597", "0436", "0544", "0857",
    "01267", "04992", "09802",
)  # fmt: skip


def _phone_groups(rng: random.Random) -> tuple[list[str], bool]:
    """Digit groups of a Japanese number (leading 0 included) and whether to write it +81."""
    kind = rng.choices(
        ("mobile", "ip", "0120", "0800", "0570", "land", "intl"), (38, 6, 5, 4, 4, 31, 12)
    )[0]
    if kind == "mobile" or (kind == "intl" and rng.random() < 0.7):
        prefix = rng.choices(("090", "080", "070", "060"), (45, 35, 17, 3))[0]
        return [prefix, _digits(rng, 4, True), _digits(rng, 4)], kind == "intl"
    if kind == "ip":
        return ["050", _digits(rng, 4, True), _digits(rng, 4)], False
    if kind == "0120":
        return ["0120", _digits(rng, 3, True), _digits(rng, 3)], False
    if kind == "0800":
        return ["0800", _digits(rng, 3, True), _digits(rng, 4)], False
    if kind == "0570":
        return ["0570", _digits(rng, 3, True), _digits(rng, 3)], False
    area = rng.choice(_AREA_CODES)
    exchange = str(rng.randint(2, 9)) + _digits(rng, 5 - len(area))
    return [area, exchange, _digits(rng, 4)], kind == "intl"


def _phone_text(ctx: _Ctx) -> str:
    rng = ctx.rng
    while True:
        groups, intl = _phone_groups(rng)
        if "".join(groups) not in _HOTLINE_DIGITS:
            break
    if intl or (ctx.lang == "en" and ctx.chance(0.3)):
        sep = ctx.pick(("-", " ", ""), (55, 35, 10))
        text = "+81" + sep + sep.join([groups[0][1:], *groups[1:]])
    else:
        sep = ctx.pick(_SEPARATORS, _SEP_WEIGHTS)
        if sep == "()":
            if ctx.chance(0.7):
                text = f"({groups[0]}){groups[1]}-{groups[2]}"
            else:
                text = f"{groups[0]}({groups[1]}){groups[2]}"
            if ctx.chance(0.4):
                text = text.replace("(", "（").replace(")", "）")
        else:
            text = sep.join(groups)
    if ctx.chance(0.15):
        text = _fw(text) if ctx.chance(0.5) else _fw_digits(text)
    return text


def _postal_text(ctx: _Ctx) -> str:
    sep = ctx.pick(("-", "ー", "－", "−", ""), (70, 6, 8, 4, 12))
    text = ctx.place.postal3 + sep + _digits(ctx.rng, 4)
    return _fw(text) if ctx.chance(0.18) else text


_EMAIL_DOMAINS = (
    "gmail.com", "yahoo.co.jp", "docomo.ne.jp", "ezweb.ne.jp", "au.com", "softbank.ne.jp",
    "i.softbank.jp", "icloud.com", "outlook.jp", "hotmail.co.jp", "nifty.com", "biglobe.ne.jp",
    "ybb.ne.jp", "mie-net.ne.jp", "example-corp.co.jp",
)  # fmt: skip
_EMAIL_WORDS = ("mama", "papa", "cat", "sakura", "happy", "mie", "tsu", "blue", "star", "family")


def _email_text(ctx: _Ctx) -> str:
    rng = ctx.rng
    s, g = ctx.surname.romaji, ctx.given.romaji
    num = str(rng.choice((rng.randint(1, 99), rng.randint(1960, 2015), rng.randint(100, 9999))))
    local = rng.choice(
        (
            f"{g}.{s}",
            f"{s}.{g}",
            f"{s}{g[0]}",
            f"{g}{num}",
            f"{s}_{g}{num}",
            f"{g[0]}-{s}",
            f"{rng.choice(_EMAIL_WORDS)}.{g}{num}",
            f"{g}.{rng.choice(_EMAIL_WORDS)}_{num}",
            f"{s}+tsunagu",
        )
    )
    domain = ctx.pick(_EMAIL_DOMAINS, (30, 22, 10, 6, 4, 5, 5, 8, 4, 3, 2, 2, 2, 2, 2))
    text = f"{local}@{domain}"
    r = rng.random()
    if r < 0.05:
        return _fw(text)
    if r < 0.10:
        return text.replace("@", "＠")
    return text


def _line_text(ctx: _Ctx) -> str:
    return "U" + "".join(ctx.rng.choice("0123456789abcdef") for _ in range(32))


def _luhn_check_digit(payload: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d >= 5 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def _card_text(ctx: _Ctx) -> str:
    rng = ctx.rng
    brand = ctx.pick(("visa", "master", "jcb", "amex"), (40, 25, 25, 10))
    if brand == "amex":
        payload = rng.choice(("34", "37")) + _digits(rng, 12)
        number = payload + _luhn_check_digit(payload)
        groups = [number[:4], number[4:10], number[10:]]
    else:
        if brand == "visa":
            prefix = "4"
        elif brand == "master":
            prefix = str(rng.randint(51, 55))
        else:
            prefix = str(rng.randint(3528, 3589))
        payload = prefix + _digits(rng, 15 - len(prefix))
        number = payload + _luhn_check_digit(payload)
        groups = [number[i : i + 4] for i in range(0, 16, 4)]
    text = ctx.pick(("-", " ", ""), (40, 40, 20)).join(groups)
    return _fw(text) if ctx.chance(0.15) else text


def _my_number_check_digit(first11: str) -> int:
    total = 0
    for n in range(1, 12):
        p = int(first11[11 - n])
        q = n + 1 if n <= 6 else n - 5
        total += p * q
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


def _my_number_text(ctx: _Ctx) -> str:
    first = _digits(ctx.rng, 11)
    number = first + str(_my_number_check_digit(first))
    sep = ctx.pick(("", " ", "-", "　"), (40, 30, 25, 5))
    text = sep.join((number[:4], number[4:8], number[8:]))
    return _fw(text) if ctx.chance(0.2) else text


def _account_text(ctx: _Ctx) -> str:
    text = _digits(ctx.rng, 7)
    return _fw(text) if ctx.chance(0.15) else text


_ERAS = (
    (dt.date(2019, 5, 1), "令和", "R"),
    (dt.date(1989, 1, 8), "平成", "H"),
    (dt.date(1926, 12, 25), "昭和", "S"),
    (dt.date(1912, 7, 30), "大正", "T"),
)


def _random_date(rng: random.Random, first_year: int, last_year: int) -> dt.date:
    lo = dt.date(first_year, 1, 1).toordinal()
    hi = dt.date(last_year, 12, 31).toordinal()
    return dt.date.fromordinal(rng.randint(lo, hi))


def _birth_text(ctx: _Ctx, first_year: int, last_year: int) -> str:
    rng = ctx.rng
    d = _random_date(rng, first_year, last_year)
    y, m, day = d.year, d.month, d.day
    if ctx.lang == "en":
        text = rng.choice((f"{y}/{m}/{day}", f"{y}-{m:02d}-{day:02d}", f"{day:02d}/{m:02d}/{y}"))
        return text
    if rng.random() < 0.55:
        start, era, abbr = next(e for e in _ERAS if d >= e[0])
        ey = y - start.year + 1
        style = rng.randrange(7)
        if style <= 2:
            year = "元" if ey == 1 and rng.random() < 0.7 else str(ey)
            text = f"{era}{year}年{m}月{day}日"
        elif style == 3:
            text = f"{era}{ey:02d}年{m:02d}月{day:02d}日"
        elif style == 4:
            text = f"{abbr}{ey}.{m}.{day}"
        elif style == 5:
            text = f"{abbr}{ey}/{m}/{day}"
        else:
            text = f"{abbr}{ey:02d}.{m:02d}.{day:02d}"
    else:
        text = rng.choice(
            (
                f"{y}年{m}月{day}日",
                f"{y}年{m}月{day}日",
                f"{y}年{m:02d}月{day:02d}日",
                f"{y}/{m}/{day}",
                f"{y}/{m:02d}/{day:02d}",
                f"{y}-{m:02d}-{day:02d}",
                f"{y}.{m}.{day}",
            )
        )
    return _fw(text) if rng.random() < 0.15 else text


_KANJI_DIGITS = "〇一二三四五六七八九"


def _address_text(ctx: _Ctx, place: _Place) -> str:
    rng = ctx.rng
    town = rng.choice(place.towns)
    hy = ctx.pick(("-", "－", "ー", "−"), (80, 8, 7, 5))
    chome, ban, go = rng.randint(1, 9), rng.randint(1, 40), rng.randint(1, 30)
    style = rng.randrange(7)
    if style == 0:
        block = f"{rng.randint(1, 2999)}番地"
    elif style == 1:
        block = f"{rng.randint(1, 999)}番地" + rng.choice((hy, "の")) + str(go)
    elif style == 2:
        block = f"{chome}丁目{ban}{hy}{go}"
    elif style == 3:
        block = f"{chome}丁目{ban}番{go}号"
    elif style == 4:
        block = f"{chome}{hy}{ban}{hy}{go}"
    elif style == 5:
        block = f"{_KANJI_DIGITS[chome]}丁目{ban}番地"
    else:
        block = f"{chome}丁目{ban}{hy}{go}"
    building = ""
    if rng.random() < 0.35:
        room = f"{rng.randint(1, 12)}0{rng.randint(1, 9)}"
        name = rng.choice(
            (
                f"メゾン{town}",
                f"コーポ{rng.choice(_SURNAMES).kanji}",
                f"ハイツ{town}",
                "サンハイツ",
                "グランメゾン",
                f"レジデンス{town}",
                "パークハウス",
            )
        )
        building = rng.choice(
            (
                f" {name}{room}号室",
                f"{name}{room}号室",
                f" {name} {room}号",
                f"　{name}{room}",
                f"{hy}{room}",
                f" 市営{town}住宅{rng.randint(1, 9)}棟{room}号室",
            )
        )
    head = place.pref + place.city if rng.random() < 0.75 else place.city
    text = head + town + block + building
    return _fw_digits(text) if rng.random() < 0.2 else text


def _full_name_text(ctx: _Ctx, surname: _Name, given: _Name) -> str:
    rng = ctx.rng
    r = rng.random()
    if r < 0.48:
        return surname.kanji + given.kanji
    if r < 0.60:
        return f"{surname.kanji} {given.kanji}"
    if r < 0.72:
        return f"{surname.kanji}\u3000{given.kanji}"
    if r < 0.88:
        return surname.kana + rng.choice((" ", "\u3000", "")) + given.kana
    if r < 0.94:
        return surname.kanji + _hiragana(given.kana)
    return _hiragana(surname.kana) + " " + _hiragana(given.kana)


def _given_text(ctx: _Ctx, given: _Name) -> str:
    r = ctx.rng.random()
    if r < 0.7:
        return given.kanji
    if r < 0.85:
        return _hiragana(given.kana)
    return given.kana


def _given_of(rng: random.Random, gender: str) -> _Name:
    return rng.choice([g for g in _GIVEN if g.gender in (gender, "u")])


_KIN: tuple[tuple[str, str], ...] = (
    ("夫", "m"),
    ("妻", "f"),
    ("息子", "m"),
    ("娘", "f"),
    ("母", "f"),
    ("父", "m"),
)
_KIN += (("祖母", "f"), ("祖父", "m"), ("兄", "m"), ("姉", "f"), ("弟", "m"), ("妹", "f"))


# --------------------------------------------------------------------------- slots

_Slot = Callable[[_Ctx], list[_Piece]]


def _slot_name(ctx: _Ctx) -> list[_Piece]:
    if ctx.chance(0.65):
        return _pii(ctx, _full_name_text(ctx, ctx.surname, ctx.given), "person_name")
    text = ctx.surname.kanji if ctx.chance(0.85) else ctx.surname.kana
    return _pii(ctx, text, "person_name")


def _slot_kin_given(ctx: _Ctx) -> list[_Piece]:
    kin, gender = ctx.rng.choice(_KIN)
    given = _given_of(ctx.rng, gender)
    full = ctx.chance(0.15)
    text = _full_name_text(ctx, ctx.surname, given) if full else _given_text(ctx, given)
    return [_plain(kin + "の"), *_pii(ctx, text, "person_name")]


def _slot_staff(ctx: _Ctx) -> list[_Piece]:
    surname = ctx.rng.choice([s for s in _SURNAMES if s != ctx.surname])
    if ctx.chance(0.15):
        text = _full_name_text(ctx, surname, ctx.rng.choice(_GIVEN))
    else:
        text = surname.kanji if ctx.chance(0.9) else surname.kana
    return _pii(ctx, text, "person_name")


def _slot_child(gender: str) -> _Slot:
    def slot(ctx: _Ctx) -> list[_Piece]:
        return _pii(ctx, _given_text(ctx, _given_of(ctx.rng, gender)), "person_name")

    return slot


def _slot_kana_fullname(ctx: _Ctx) -> list[_Piece]:
    text = ctx.surname.kana + ctx.rng.choice((" ", "\u3000")) + ctx.given.kana
    if ctx.chance(0.4):
        text = _halfwidth_kana(text.replace("\u3000", " "))
    return _pii(ctx, text, "person_name")


def _slot_birth(first_year: int, last_year: int) -> _Slot:
    def slot(ctx: _Ctx) -> list[_Piece]:
        return _pii(ctx, _birth_text(ctx, first_year, last_year), "birth_date")

    return slot


def _slot_address(ctx: _Ctx) -> list[_Piece]:
    # The first address of a message goes with its postal code; any further one is elsewhere.
    place = ctx.place if ctx.addresses == 0 else ctx.rng.choice(_PLACES)
    ctx.addresses += 1
    return _pii(ctx, _address_text(ctx, place), "address")


def _simple(entity: str, make: Callable[[_Ctx], str]) -> _Slot:
    def slot(ctx: _Ctx) -> list[_Piece]:
        return _pii(ctx, make(ctx), entity)

    return slot


def _plain_slot(options: tuple[str, ...]) -> _Slot:
    def slot(ctx: _Ctx) -> list[_Piece]:
        return [_plain(ctx.rng.choice(options))]

    return slot


# --------------------------------------------------------------------------- decoy slots


def _maybe_fw(ctx: _Ctx, text: str, p: float = 0.12) -> str:
    return _fw(text) if ctx.chance(p) else text


def _decoy_price(ctx: _Ctx) -> list[_Piece]:
    rng = ctx.rng
    amount = rng.choice((100, 200, 300, 500, 980, 1000, 1980, 2000, 3000, 5000, 12800))
    amount = amount if rng.random() < 0.6 else rng.randint(1, 500) * 100
    style = rng.randrange(6)
    if style == 0:
        text = f"{amount:,}円"
    elif style == 1:
        text = f"{amount}円"
    elif style == 2:
        text = rng.choice(("￥", "¥")) + rng.choice((f"{amount}", f"{amount:,}"))
    elif style == 3 and amount >= 10000:
        man, rest = divmod(amount, 10000)
        text = f"{man}万{rest // 1000}千円" if rest >= 1000 else f"{man}万円"
    else:
        text = f"{amount:,}円"
    return [_dec(_maybe_fw(ctx, text), "price")]


_WEEKDAYS = "月火水木金土日"
_MONTHS: tuple[str, ...] = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
)
_MONTHS += ("September", "October", "November", "December")


def _decoy_event_date(ctx: _Ctx) -> list[_Piece]:
    rng = ctx.rng
    d = _random_date(rng, 2025, 2027)
    y, m, day = d.year, d.month, d.day
    if ctx.lang == "en":
        text = rng.choice((f"{_MONTHS[m - 1]} {day}", f"{y}/{m}/{day}", f"{m}/{day}"))
        return [_dec(text, "event_date")]
    style = rng.randrange(7)
    if style in (0, 1):
        text = f"{m}月{day}日"
    elif style == 2:
        text = f"{y}年{m}月{day}日"
    elif style == 3:
        text = f"令和{y - 2018}年{m}月{day}日"
    elif style == 4:
        text = f"{m}/{day}"
    elif style == 5:
        text = f"{y}/{m}/{day}"
    else:
        text = f"{m}月{day}日"
    pieces = [_dec(_maybe_fw(ctx, text), "event_date")]
    if rng.random() < 0.3 and ctx.lang == "ja":
        pieces.append(_plain(f"（{_WEEKDAYS[d.weekday()]}）"))
    return pieces


def _decoy_time(ctx: _Ctx) -> list[_Piece]:
    rng = ctx.rng
    h, mi = rng.randint(8, 20), rng.choice((0, 15, 30, 45))
    if ctx.lang == "en":
        text = (
            f"{h}:{mi:02d}" if rng.random() < 0.7 else f"{h % 12 or 12}{'pm' if h >= 12 else 'am'}"
        )
        return [_dec(text, "time")]
    text = rng.choice(
        (
            f"{h}:{mi:02d}",
            f"{h}:{mi:02d}",
            f"{h}時",
            f"{h}時半",
            f"{h}時{mi}分" if mi else f"{h}時",
            ("午前" if h < 12 else "午後") + f"{h % 12 or 12}時",
        )
    )
    return [_dec(_maybe_fw(ctx, text, 0.15), "time")]


def _decoy_quantity(units: tuple[str, ...], top: int) -> _Slot:
    def slot(ctx: _Ctx) -> list[_Piece]:
        rng = ctx.rng
        if ctx.lang == "en":
            text = f"{rng.randint(2, 12)} people"
            return [_dec(text, "quantity")]
        text = f"{rng.randint(1, top)}{rng.choice(units)}"
        return [_dec(_maybe_fw(ctx, text), "quantity")]

    return slot


def _decoy_points(ctx: _Ctx) -> list[_Piece]:
    rng = ctx.rng
    text = rng.choice(
        (f"{rng.randint(1, 9)},{rng.randint(100, 999)}", str(rng.randint(100, 20000)))
    )
    return [_dec(text + "ポイント", "quantity")]


def _decoy_age(lo: int, hi: int) -> _Slot:
    def slot(ctx: _Ctx) -> list[_Piece]:
        n = ctx.rng.randint(lo, hi)
        text = f"{n} years old" if ctx.lang == "en" else f"{n}歳"
        return [_dec(text, "age")]

    return slot


def _ean13(rng: random.Random) -> str:
    payload = rng.choice(("49", "45")) + _digits(rng, 10)
    total = sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(payload))
    return payload + str((10 - total % 10) % 10)


def _decoy_product(ctx: _Ctx) -> list[_Piece]:
    rng = ctx.rng
    letters = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(rng.randint(1, 3)))
    text = rng.choice(
        (_ean13(rng), f"{letters}-{rng.randint(100, 9999)}", f"{letters}{rng.randint(10, 999)}")
    )
    return [_dec(text, "product_code")]


_PHONE_MODELS = (
    "SH-51A", "iPhone 15", "iPhone 13 mini", "Pixel 8a", "SC-54D", "Galaxy S23", "AQUOS sense8",
    "SO-53C", "Xperia 10 V", "A302SH",
)  # fmt: skip
_APPLIANCE_MODELS = (
    "KJ-55X9500H", "TH-43LX800", "NA-VX900BL", "CS-X404D2", "AY-R40DH", "MSZ-GV2224", "NR-F507HPX",
)  # fmt: skip


def _decoy_model(models: tuple[str, ...]) -> _Slot:
    def slot(ctx: _Ctx) -> list[_Piece]:
        return [_dec(ctx.rng.choice(models), "model_number")]

    return slot


def _decoy_order(ctx: _Ctx) -> list[_Piece]:
    rng = ctx.rng
    if rng.random() < 0.3:
        d = _random_date(rng, 2025, 2026)
        text = f"{d.year}{d.month:02d}{d.day:02d}{_digits(rng, rng.randint(0, 2))}"
    else:
        text = _digits(rng, rng.randint(8, 10), True)
    return [_dec(_maybe_fw(ctx, text, 0.08), "order_number")]


def _decoy_year(ctx: _Ctx) -> list[_Piece]:
    rng = ctx.rng
    y = rng.randint(2018, 2027)
    if ctx.lang == "en":
        return [_dec(rng.choice((str(y), f"FY{y}")), "year")]
    text = rng.choice((f"{y}年度", f"{y}年", f"令和{y - 2018}年度", f"{y}年度"))
    if y < 2019 and "令和" in text:
        text = f"平成{y - 1988}年度"
    return [_dec(_maybe_fw(ctx, text, 0.1), "year")]


def _decoy_hotline(ctx: _Ctx) -> list[_Piece]:
    ja, en, number = ctx.rng.choice(_HOTLINES)
    shown = _fw_digits(number) if ctx.chance(0.1) else number
    if ctx.lang == "en":
        return [_plain(f"{en} ("), _dec(shown, "hotline"), _plain(")")]
    return [_plain(f"{ja}（"), _dec(shown, "hotline"), _plain("）")]


def _decoy_percent(ctx: _Ctx) -> list[_Piece]:
    rng = ctx.rng
    text = rng.choice(
        (
            f"{rng.randint(1, 50)}%",
            f"{rng.randint(1, 50)}％",
            f"{rng.randint(1, 9)}.5%",
            f"{rng.randint(1, 9)}割",
        )
    )
    return [_dec(text, "percentage")]


def _decoy_bus(ctx: _Ctx) -> list[_Piece]:
    n = ctx.rng.randint(1, 99)
    if ctx.lang == "en":
        return [_plain("bus "), _dec(f"No. {n}", "bus_number")]
    if ctx.chance(0.5):
        return [_dec(f"{n}系統", "bus_number"), _plain("のバス")]
    return [_dec(f"{n}番", "bus_number"), _plain("のバス")]


def _decoy_counter(ctx: _Ctx) -> list[_Piece]:
    n = ctx.rng.randint(1, 12)
    if ctx.chance(0.5):
        return [_dec(f"{n}番窓口", "counter")]
    return [_dec(f"{ctx.rng.randint(1, 5)}階", "floor"), _plain("の窓口")]


def _decoy_place(ctx: _Ctx) -> list[_Piece]:
    place = ctx.rng.choice(_PLACES)
    text = ctx.rng.choice((place.pref, place.city, place.city, place.pref + place.city))
    return [_dec(text, "place")]


# --------------------------------------------------------------------------- context sentences

_PLAIN_CONTEXT_JA = (
    "国民健康保険の手続きについて相談です。",
    "転入の手続きを教えてください。",
    "児童手当の申請をしたいです。",
    "介護保険の認定について聞きたいです。",
    "ごみの分別がよくわかりません。",
    "住民票の写しを郵送で取り寄せたいです。",
    "マイナンバーカードの更新について教えてください。",
    "電話番号を変更したので登録をお願いします。",
    "口座振替の申込書はどこでもらえますか。",
    "生活保護の相談をしたいです。",
    "家の近くで騒音がひどくて困っています。",
    "空き家バンクについて教えてください。",
    "夫からの暴力で悩んでいます。",
    "子どもの予防接種の予約をしたいです。",
    "固定資産税の納付書が届いていません。",
    "よろしくお願いします。",
    "至急折り返しをお願いします。",
    "平日は仕事で市役所に行けません。",
    "高齢の母の見守りサービスについて相談したいです。",
    "誕生日や住所を書く欄がわかりません。",
)
_PLAIN_CONTEXT_EN = (
    "I have a question about garbage collection.",
    "I need help with my residence registration.",
    "I would like to apply for the child allowance.",
    "Thank you in advance.",
    "Sorry, I can't read Japanese well.",
    "Could someone call me back, please?",
)
_DECOY_CONTEXT_JA = (
    "{edate}のお祭りは何時からですか？",
    "{edate}から児童手当の申請が始まると聞きました。",
    "粗大ごみの手数料は{price}で合っていますか？",
    "{time}に市役所の{counter}に行けばいいですか？",
    "{hotline}にも相談しました。",
    "{phone_model}でマイナポータルにログインできません。",
    "注文番号 {order} の商品が届かないのですが、どこに相談すればいいですか？",
    "{year}の住民税の納付書が届きました。",
    "{place}のプレミアム付き商品券は{price}で{pct}お得になりますか？",
    "{bus}に乗れば保健センターに行けますか？",
    "{age_old}の母の介護保険の申請をしたいです。",
    "指定ごみ袋は{qty_items}入りで{price}ですか？",
    "{edate} {time}から健診の予約を取りました。",
    "相談先は{hotline}でいいですか？",
    "商品コード{product}の返品を断られました。",
    "定期購入の健康食品（品番{product}）を解約したいです。",
    "{year}に{place}に引っ越してきました。",
    "子どもが{age_child}になったので{edate}の健診を受けたいです。",
    "スマホ（{phone_model}）が壊れてLINEのアカウントが消えました。",
    "家賃が{price}上がって、{pct}の値上げです。",
    "相談の予約は{edate}の{time}でお願いします。",
    "{hotline}につながりません。",
    "水道料金が{price}になっていて、いつもより{pct}高いです。",
    "予約番号{order}をキャンセルしたいです。",
    "{year}の確定申告について質問です。",
    "型番{appliance}の家電は省エネ家電の補助金の対象ですか？",
    "{place}の避難所には{qty_people}くらい入れますか？",
    "ネットで{price}の{model}を買ったら偽物でした。注文番号は{order}です。",
    "{edate}から{edate}まで窓口はお休みですか？",
    "{qty_people}分のワクチン予約は{time}までですか？",
    "申請してから{qty_period}たっても連絡がありません。",
    "マイナポイントが{points}残っています。いつまで使えますか？",
    "粗大ごみを{qty_items}出したいです。{price}の処理券でいいですか？",
    "申込番号：{order}",
)
_DECOY_CONTEXT_EN = (
    "Is the festival on {edate} free, or is it {price}?",
    "Does {bus} go to city hall? It leaves at {time}.",
    "I called {hotline} but nobody answered.",
    "My phone ({phone_model}) cannot open the My Number portal.",
    "Order number {order} never arrived.",
    "The rent went up by {pct} in {year}.",
    "My mother is {age_old} and needs nursing care.",
    "Can {qty} join the health check on {edate}?",
)

# --------------------------------------------------------------------------- PII templates

_PII_TEMPLATES_JA = (
    "私は{fullname}です。電話番号は{phone}です。",
    "{name}と申します。{topic}連絡先は{phone}です。",
    "住所は{address}です。",
    "〒{postal} {address}に送ってください。",
    "〒{postal} に送ってください。",
    "郵便番号{postal}、{address}の{fullname}です。",
    "口座番号は普通{account}です（{bank}銀行 {branch}支店）",
    "振込先は{bank}銀行{branch}支店 当座 {account} 名義{kana_fullname}です。",
    "生年月日は{birth}です。",
    "{birth}生まれの{fullname}です。",
    "マイナンバーは{mynum}です。",
    "マイナンバー：{mynum} 氏名：{fullname}",
    "個人番号 {mynum} を申請書に書けばいいですか？",
    "メールアドレスは{email}です。",
    "返信は{email}にお願いします。{name}",
    "LINEのユーザーIDは{line}です。",
    "userId: {line} で登録されていますか？",
    "クレジットカード番号は{card}です。",
    "カード番号{card}で引き落としされています。",
    "{card}のカードが不正利用されたかもしれません。{topic}",
    "{kin_given}が入院しました。{name}です。電話は{phone}です。",
    "担当の{staff}様にお伝えください。{name}です。",
    "{staff}さんから折り返しの電話をお願いします。{phone}",
    "息子の{son}くんの健診の件です。{topic}",
    "娘の{daughter}ちゃんの保育園の申し込みについてです。",
    "名前は{fullname}、生年月日は{birth}、住所は{address}です。",
    "氏名：{fullname}\n住所：{address}\n電話：{phone}",
    "{fullname}（{birth}生）の住民票を取りたいです。",
    "電話番号が{phone}から{phone}に変わりました。",
    "日中は{phone}、夜は{phone}にかけてください。",
    "携帯：{phone} / 自宅：{phone}",
    "給付金の振込先を変えたいです。{bank}銀行 {branch}支店 普通 {account} です。",
    "{address}に住んでいる{fullname}です。{topic}",
    "{name}です。{address}の空き家について相談したいです。",
    "先ほど電話した{name}です。折り返しは{phone}までお願いします。",
    "母（{birth_old}生まれ）の介護保険の申請をしたいです。住所は{address}です。",
    "子どもの誕生日は{birth_child}です。児童手当の申請をしたいです。",
    "転入届について。新住所：{address} 旧住所：{address}",
    "{fullname}です。メール（{email}）かLINE（{line}）で連絡ください。",
    "{kin_given}の口座（{bank}銀行 {branch}支店 普通{account}）に振り込んでください。",
    "引き落とし口座：{branch}支店 普通預金 口座番号{account}",
    "マイナンバーカードの暗証番号を忘れました。個人番号は{mynum}、生年月日は{birth}です。",
    "カード番号（{card}）と有効期限を電話で聞かれました。詐欺でしょうか？",
    "郵便物が届きません。〒{postal} {address} {fullname}宛です。",
    "{fullname}様宛の書類を{address}に送ってください。",
    "メール {email} に申請書を送ってもらえますか？{fullname}",
    "電話がつながらないので{email}に連絡ください。{phone}でも大丈夫です。",
    "夫の生年月日は{birth}で、今年で退職します。年金の相談です。",
    "お世話になっております。{name}です。{topic}",
    "{surname}です。先日はありがとうございました。",
    "相談員の{staff}さんに代わってもらえますか？",
    "{kin_given}の生年月日は{birth}です。",
    "LINE ID（{line}）と電話番号（{phone}）を登録しました。",
    "住所変更：{address}（〒{postal}）",
    "郵便番号は{postal}です。{topic}",
    "{name}です。誕生日は{birth}です。マイナンバーは{mynum}です。",
    "TEL {phone}\n{fullname}",
)
_PII_TEMPLATES_EN = (
    "My name is {fullname}. My phone number is {phone}.",
    "Please send it to {address}. My email is {email}.",
    "DOB: {birth} / Name: {fullname}",
    "My Individual Number (My Number) is {mynum}.",
    "I was born on {birth}. Postal code: {postal}.",
    "Could you call me back at {phone}? This is {name}.",
    "Card number {card} was charged twice.",
    "My LINE user ID is {line}.",
    "Address: {address}\nTel: {phone}\nEmail: {email}",
    "Please transfer it to {bank} Bank, {branch} branch, savings account {account}.",
    "My husband {husband} was born {birth}.",
    "Hi, this is {name}. {topic}",
)

_SLOTS: dict[str, _Slot] = {
    "name": _slot_name,
    "fullname": lambda ctx: _pii(ctx, _full_name_text(ctx, ctx.surname, ctx.given), "person_name"),
    "surname": lambda ctx: _pii(ctx, ctx.surname.kanji, "person_name"),
    "kana_fullname": _slot_kana_fullname,
    "kin_given": _slot_kin_given,
    "husband": _slot_child("m"),
    "staff": _slot_staff,
    "son": _slot_child("m"),
    "daughter": _slot_child("f"),
    "phone": _simple("phone", _phone_text),
    "postal": _simple("postal_code", _postal_text),
    "email": _simple("email", _email_text),
    "line": _simple("line_user_id", _line_text),
    "card": _simple("card_number", _card_text),
    "mynum": _simple("my_number", _my_number_text),
    "account": _simple("bank_account", _account_text),
    "birth": _slot_birth(1935, 2006),
    "birth_old": _slot_birth(1918, 1955),
    "birth_child": _slot_birth(2012, 2025),
    "address": _slot_address,
    "bank": _plain_slot(_BANKS),
    "branch": _plain_slot(_BRANCHES),
    "price": _decoy_price,
    "edate": _decoy_event_date,
    "time": _decoy_time,
    "qty": _decoy_quantity(("人", "回", "枚", "袋", "個"), 12),
    "qty_people": _decoy_quantity(("人", "世帯", "名"), 40),
    "qty_items": _decoy_quantity(("枚", "袋", "個", "本"), 20),
    "qty_period": _decoy_quantity(("か月", "週間", "日", "年"), 6),
    "points": _decoy_points,
    "age_old": _decoy_age(65, 98),
    "age_child": _decoy_age(1, 12),
    "product": _decoy_product,
    "model": _decoy_model(_PHONE_MODELS + _APPLIANCE_MODELS),
    "phone_model": _decoy_model(_PHONE_MODELS),
    "appliance": _decoy_model(_APPLIANCE_MODELS),
    "order": _decoy_order,
    "year": _decoy_year,
    "hotline": _decoy_hotline,
    "pct": _decoy_percent,
    "bus": _decoy_bus,
    "counter": _decoy_counter,
    "place": _decoy_place,
}
_SLOTS["topic"] = lambda ctx: _context_sentence(ctx, ctx.chance(0.5))

_SLOT_ENTITY = {
    "name": "person_name",
    "fullname": "person_name",
    "surname": "person_name",
    "kana_fullname": "person_name",
    "kin_given": "person_name",
    "husband": "person_name",
    "staff": "person_name",
    "son": "person_name",
    "daughter": "person_name",
    "phone": "phone",
    "postal": "postal_code",
    "email": "email",
    "line": "line_user_id",
    "card": "card_number",
    "mynum": "my_number",
    "account": "bank_account",
    "birth": "birth_date",
    "birth_old": "birth_date",
    "birth_child": "birth_date",
    "address": "address",
}

_SLOT_RE = re.compile(r"\{(\w+)\}")


def _template_entities(template: str) -> frozenset[str]:
    return frozenset(_SLOT_ENTITY[s] for s in _SLOT_RE.findall(template) if s in _SLOT_ENTITY)


_PII_TEMPLATES = tuple(("ja", t) for t in _PII_TEMPLATES_JA) + tuple(
    ("en", t) for t in _PII_TEMPLATES_EN
)
_TEMPLATES_BY_ENTITY = {
    entity: tuple(lt for lt in _PII_TEMPLATES if entity in _template_entities(lt[1]))
    for entity in ENTITY_TYPES
}


def _render(template: str, ctx: _Ctx) -> list[_Piece]:
    pieces: list[_Piece] = []
    pos = 0
    for match in _SLOT_RE.finditer(template):
        if match.start() > pos:
            pieces.append(_plain(template[pos : match.start()]))
        pieces.extend(_SLOTS[match.group(1)](ctx))
        pos = match.end()
    if pos < len(template):
        pieces.append(_plain(template[pos:]))
    return pieces


def _context_sentence(ctx: _Ctx, with_decoys: bool) -> list[_Piece]:
    pool: tuple[str, ...]
    if ctx.lang == "en":
        pool = _DECOY_CONTEXT_EN if with_decoys else _PLAIN_CONTEXT_EN
    else:
        pool = _DECOY_CONTEXT_JA if with_decoys else _PLAIN_CONTEXT_JA
    return _render(ctx.rng.choice(pool), ctx)


_GREETINGS_JA = (
    "こんにちは。",
    "お世話になります。",
    "すみません、",
    "はじめまして。",
    "夜分に失礼します。",
)
_GREETINGS_EN = ("Hello, ", "Hi. ", "Good morning. ")


def _join(ctx: _Ctx, parts: list[list[_Piece]]) -> list[_Piece]:
    out: list[_Piece] = []
    for part in parts:
        if out:
            sep = " " if ctx.lang == "en" else ctx.pick(("", "\n", " "), (70, 20, 10))
            if sep:
                out.append(_plain(sep))
        out.extend(part)
    return out


def _pii_message(ctx: _Ctx, template: str) -> list[_Piece]:
    greetings = _GREETINGS_EN if ctx.lang == "en" else _GREETINGS_JA
    greeting = ctx.rng.choice(greetings) if ctx.chance(0.25) else ""
    parts: list[list[_Piece]] = []
    if ctx.chance(0.3):
        parts.append(_context_sentence(ctx, ctx.chance(0.6)))
    parts.append(_render(template, ctx))
    if ctx.chance(0.3):
        parts.append(_context_sentence(ctx, ctx.chance(0.6)))
    return [_plain(greeting), *_join(ctx, parts)] if greeting else _join(ctx, parts)


def _decoy_message(ctx: _Ctx) -> list[_Piece]:
    parts = [_context_sentence(ctx, True)]
    if ctx.chance(0.35):
        parts.append(_context_sentence(ctx, True))
    if ctx.chance(0.3):
        parts.insert(ctx.rng.randrange(len(parts) + 1), _context_sentence(ctx, False))
    return _join(ctx, parts)


def _assemble(pieces: list[_Piece]) -> Sample:
    spans: list[Span] = []
    decoys: list[Span] = []
    offset = 0
    for piece in pieces:
        end = offset + len(piece.text)
        if piece.label is not None:
            (decoys if piece.decoy else spans).append(Span(offset, end, piece.label))
        offset = end
    return Sample("".join(p.text for p in pieces), tuple(spans), tuple(decoys))


def generate(n: int = 1200, seed: int = 20261121) -> list[Sample]:
    """Generate `n` samples deterministically; about 30% hold only decoys."""
    if n < 0:
        raise ValueError("n must be non-negative")
    rng = random.Random(seed)
    samples: list[Sample] = []
    focus_index = 0
    for _ in range(n):
        if rng.random() < 0.3:
            ctx = _new_ctx(rng, "en" if rng.random() < 0.15 else "ja")
            samples.append(_assemble(_decoy_message(ctx)))
            continue
        # Cycle the entity every PII message is built around, so each type is well covered.
        focus = ENTITY_TYPES[focus_index % len(ENTITY_TYPES)]
        focus_index += 1
        lang, template = rng.choice(_TEMPLATES_BY_ENTITY[focus])
        samples.append(_assemble(_pii_message(_new_ctx(rng, lang), template)))
    return samples


def to_jsonl(samples: list[Sample]) -> str:
    """Serialise samples as JSON Lines: text, spans and decoys as [start, end, label] triples."""
    lines = [
        json.dumps(
            {
                "text": s.text,
                "spans": [[x.start, x.end, x.entity] for x in s.spans],
                "decoys": [[x.start, x.end, x.entity] for x in s.decoys],
            },
            ensure_ascii=False,
        )
        for s in samples
    ]
    return "".join(line + "\n" for line in lines)


if __name__ == "__main__":
    sys.stdout.write(to_jsonl(generate()))
