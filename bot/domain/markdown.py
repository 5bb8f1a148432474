"""User text → Markdown that shows exactly that text (CommonMark, plus the GFM tables, strikethrough and autolinks
that GitHub and most wikis add), escaped only where Markdown would otherwise read it as formatting.

The text is first made one line (runs of whitespace become one space), so it can never start a block of its own: no
heading, list, quote, code block, setext underline or table row can come from a line break or leading spaces. Then
only the characters that would mean something are backslash-escaped, so ordinary prose ("5 - 3 (ok) #1",
"snake_case", "AT&T", "a < b") stays readable in the raw file:

- everywhere: `` ` `` (code), `*` unless it stands between spaces (emphasis), `_` unless it sits inside a word or
  between spaces (emphasis), `~` (strikethrough), `[` `]` (links, images), `|` (a table cell: a value may land in
  one), `<` before a letter, `/`, `!` or `?` (HTML, autolinks), `&` that starts an entity (`&amp;`), `\\` before
  punctuation or at the end (an escape of its own), and what GFM would turn into a link: the `:` after a bare
  `http`, `https`, `ftp`, `mailto` or `xmpp`, the `.` of a bare `www.`, the `@` of an e-mail address;
- at the start, where the value may begin a line: `#` heading, `>` quote, `-` `+` list or rule, `=` setext
  underline, `1.` / `1)` ordered list.

Broadcast words (`@channel`, `@here`, `@everyone`, as typed or from Slack's `<!channel>`) get an invisible word
joiner after the `@`: the draft pasted back into Slack can't notify a whole channel.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from urllib.parse import quote

from bot.domain.text import slack_to_plain

WORD_JOINER = "\u2060"
_USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
_ASCII_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_ALWAYS = frozenset("`~[]|")
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
# Wherever it stands: linkify takes a scheme right after a digit too (`0http://…`), and an escape too many shows nothing.
_BARE_URL = re.compile(r"(?i)(?:https?|ftp|mailto|xmpp)(?=:)|www(?=\.)")
_EMAIL_AT = re.compile(r"(?<=[A-Za-z0-9._+-])@(?=[A-Za-z0-9-]+\.[A-Za-z0-9])")
_HEADING = re.compile(r"#{1,6}(?:\s|$)")
_ORDERED = re.compile(r"([0-9]{1,9})[.)](?:\s|$)")
_THEMATIC = re.compile(r"([-*_])(?:\s*\1){2,}\s*$")
_CLOSING_HASHES = re.compile(r"\s(#+)$")
_SETEXT = re.compile(r"(?:=+|-+)\s*$")

NameOf = Callable[[str], str | None]


def mentions_to_names(text: str, name_of: NameOf | None, *, mrkdwn: bool = False) -> str:
    """Mentions → plain words, `<@U…>` as `@display name` where the name is known (else `@U…`). `mrkdwn`: the text is
    Slack mrkdwn as sevbot stored it (timeline summaries), so `&lt;` `&gt;` `&amp;` are decoded too, and the
    mentions people typed inside it (stored escaped) are named like sevbot's own."""
    if mrkdwn:
        text = slack_to_plain(_named(text, name_of))
    return slack_to_plain(_named(text, name_of), decode_entities=False)


def _named(text: str, name_of: NameOf | None) -> str:
    if name_of is None:
        return text
    return _USER_MENTION.sub(lambda m: "@" + (name_of(m.group(1)) or m.group(1)), text)


def inert_markdown(value: object, name_of: NameOf | None = None, *, mrkdwn: bool = False) -> str:
    """A value people typed (or, with `mrkdwn`, stored Slack mrkdwn) → one line of Markdown that renders as exactly
    that text."""
    if value is None or value == "":
        return ""
    plain = " ".join(mentions_to_names(str(value), name_of, mrkdwn=mrkdwn).split())
    plain = _BROADCAST.sub(lambda m: "@" + WORD_JOINER + m.group(1), plain)
    return _escape(plain)


# The only characters that may need a backslash (the rest of the text is copied as it is: most of it, quickly).
_CANDIDATE = re.compile(r"[\\`*_~\[\]|<&:.@]")


@lru_cache(maxsize=8192)  # names and labels repeat on every row of a long draft
def _escape(text: str) -> str:
    n = len(text)
    # where a bare URL's `:` or `.` is, and an e-mail address's `@`: GFM would make links of them
    url_marks = {m.end() for m in _BARE_URL.finditer(text)} | {m.start() for m in _EMAIL_AT.finditer(text)}
    out: list[str] = []
    done = 0
    for match in _CANDIDATE.finditer(text):
        i = match.start()
        ch = text[i]
        # Beyond the value's ends is template text we can't see: count it as neither space nor letter.
        before = text[i - 1] if i else ""
        after = text[i + 1] if i + 1 < n else ""
        if ch in _ALWAYS:
            escape = True
        elif ch == "\\":
            escape = i + 1 == n or after in _ASCII_PUNCTUATION
        elif ch == "*":  # between spaces it can neither open nor close emphasis
            escape = not (before.isspace() and after.isspace())
        elif ch == "_":  # nor inside a word
            escape = not ((before.isalnum() and after.isalnum()) or (before.isspace() and after.isspace()))
        elif ch == "<":
            escape = after.isalpha() or after in "/!?"
        elif ch == "&":
            escape = _ENTITY.match(text, i) is not None
        else:  # `:` `.` `@`
            escape = i in url_marks
        if escape:
            out.append(text[done:i])
            out.append("\\")
            done = i
    out.append(text[done:])
    escaped = "".join(out)
    closing = _CLOSING_HASHES.search(escaped)
    if closing:  # ` ##` at the end would close a heading the value sits in, and vanish
        escaped = escaped[:closing.start(1)] + "\\" + escaped[closing.start(1):]
    return _escape_line_start(text, escaped)


def _escape_line_start(plain: str, escaped: str) -> str:
    """The value may start a line: block markers at its very start are escaped too."""
    first = plain[:1]
    if first == ">" or (first == "#" and _HEADING.match(plain)):
        return "\\" + escaped
    if first in "-+" and (plain[1:2] in ("", " ") or _THEMATIC.match(plain) or _SETEXT.match(plain)):
        return "\\" + escaped
    if first == "=" and _SETEXT.match(plain):
        return "\\" + escaped
    ordered = _ORDERED.match(plain)
    if ordered:
        end = len(ordered.group(1))
        return escaped[:end] + "\\" + escaped[end:]  # digits are never escaped, so positions agree up to here
    return escaped


def who(user_id: object, names: dict[str, str] | None) -> str:
    """A person as the draft shows them: `@display name` (escaped like any typed text), `@U…` when no name was ever
    taken, `sevbot` for the bot itself."""
    if not user_id:
        return ""
    if user_id == "sevbot":
        return "sevbot"
    return inert_markdown("@" + ((names or {}).get(str(user_id)) or str(user_id)))


_URL_SAFE = "-._~:/?#@!$&'*+,;=%"


def link(label: object, url: object, names: dict[str, str] | None = None) -> str:
    """A Markdown link to an http(s) URL from a sender we don't trust: the label is inert text, the destination is
    percent-encoded so it can't end early or break a table. Anything but http(s) shows the label alone."""
    shown = inert_markdown(label, names.get if names else None) or "link"
    target = str(url or "").strip()
    if not target.lower().startswith(("https://", "http://")):
        return shown
    target = quote(target, safe=_URL_SAFE)
    target = _ENTITY.sub(lambda m: "\\" + m.group(0), target)
    return f"[{shown}]({target})"
