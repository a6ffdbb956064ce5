"""What the live room accepts: comment length, banned words and "want" keywords.

Pure functions over text, plus :class:`WordList`, a word file in the data
folder that the host edits with any text editor (one entry a line, ``#`` for
notes); the room re-reads it when it changes, so a word added mid-show is
refused from the next comment on.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

from analytics.comments import normalize_keyword

MAX_TEXT = 200
MAX_NICKNAME = 24

BANNED_FILE = "banned_words.txt"
WANT_FILE = "want_keywords.txt"

#: Written once into the data folder; the host edits the file, not this list.
DEFAULT_BANNED = (
    "# Comments containing any of these are refused (spaces and punctuation inside are ignored).",
    "# 含有以下词语的评论会被拒绝（中间的空格和标点会被忽略）。每行一个。",
    "加微信",
    "加v",
    "私聊",
    "代购",
    "刷单",
    "兼职",
    "返利",
    "赌博",
    "fake",
    "scam",
    "whatsapp",
    "telegram",
)
DEFAULT_WANT = (
    "# A comment that is one of these (or starts with one of two or more characters) is a 'want' signal.",
    "# 评论是以下之一（或以两个字以上的词开头）时，算作“想要”。每行一个。",
    "扣1",
    "想要",
    "我要",
    "要",
    "1",
    "+1",
    "want",
    "i want",
)
#: A want keyword after one of these is no want ("不想要", "don't want").
NEGATIONS = ("不", "别", "没", "don't", "dont", "do not", "not ", "no ")
_TRAILING = " \t!！.。~～?？,，、…👍🙏❤️♥"


class CommentRefused(ValueError):
    """A comment the room will not take, with a stable code and both languages."""

    def __init__(self, code: str, detail: str, detail_zh: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.detail_zh = detail_zh


def normalize(text: str) -> str:
    """NFKC, case-folded, invisible format characters removed: ``Ｗａｎｔ`` and ``want`` are one word."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch) != "Cf").strip()


def squeeze(text: str) -> str:
    """Letters and digits only: ``加 微-信`` still reads 加微信 (the same folding as a draw keyword)."""
    return normalize_keyword(text)


def _clean(value: object, field: str, field_zh: str, limit: int) -> str:
    if not isinstance(value, str):
        raise CommentRefused("bad_comment", f"{field} must be text", f"{field_zh}必须是文字")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise CommentRefused("bad_comment", f"{field} is not valid text", f"{field_zh}含有无效字符") from None
    text = unicodedata.normalize("NFC", value).strip()
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise CommentRefused(
            "bad_comment", f"{field} must not contain control characters", f"{field_zh}不能包含控制字符"
        )
    if len(text) > limit:
        raise CommentRefused(
            "too_long", f"{field} is longer than {limit} characters", f"{field_zh}不能超过 {limit} 个字"
        )
    return text


def check_comment(nickname: object, text: object, banned: tuple[str, ...]) -> tuple[str, str]:
    """The nickname and text as the room shows them, or :class:`CommentRefused` saying why not."""
    clean_text = _clean(text, "comment", "评论", MAX_TEXT)
    if not clean_text:
        raise CommentRefused("empty_comment", "write something first", "请先输入评论内容")
    clean_nickname = _clean(nickname if nickname is not None else "", "nickname", "昵称", MAX_NICKNAME)
    squeezed = squeeze(clean_text) + " " + squeeze(clean_nickname)
    for word in banned:
        if word and squeeze(word) and squeeze(word) in squeezed:
            raise CommentRefused(
                "banned_word",
                "this comment contains a word the host does not allow",
                "评论中含有主播不允许的词语",
            )
    return clean_nickname, clean_text


def is_want(text: str, keywords: tuple[str, ...]) -> bool:
    """A "want" signal: the comment is a keyword (or repeats it: 111, 要要要), or starts with one of 2+ chars."""
    said = normalize(text).rstrip(_TRAILING).strip()
    if not said or any(negation in said for negation in NEGATIONS):
        return False
    for keyword in (normalize(k) for k in keywords):
        if not keyword:
            continue
        if said == keyword or said.replace(keyword, "") == "":
            return True
        if len(keyword) >= 2 and said.startswith(keyword):
            rest = said[len(keyword) :]
            # "want" must not match "wanted"/"wants"; CJK keywords run on ("想要两箱").
            if not (keyword[-1].isascii() and keyword[-1].isalpha() and rest[:1].isascii() and rest[:1].isalpha()):
                return True
    return False


@dataclass
class WordList:
    """One editable word file in the data folder, created with its defaults the first time."""

    path: Path
    defaults: tuple[str, ...]
    _mtime: float = -1.0
    _words: tuple[str, ...] = ()

    def words(self) -> tuple[str, ...]:
        """The file's entries; re-read only when the file changed (cheap to call per comment)."""
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text("\n".join(self.defaults) + "\n", encoding="utf-8")
        mtime = self.path.stat().st_mtime
        if mtime != self._mtime:
            lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
            self._words = tuple(line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#"))
            self._mtime = mtime
        return self._words


def banned_words(data_dir: Path) -> WordList:
    return WordList(data_dir / BANNED_FILE, DEFAULT_BANNED)


def want_keywords(data_dir: Path) -> WordList:
    return WordList(data_dir / WANT_FILE, DEFAULT_WANT)
