"""Making outside text safe to show in Slack: the one place that escapes and builds links.

Anything an alert, a PagerDuty incident, a pod or an HTTP endpoint says is chosen by
whoever sent it. In Slack's mrkdwn (and in the fallback `text` of a message, which Slack
parses the same way) `<!channel>`, `<!here>`, `<@U…>` and `<https://evil|Click here>`
notify people or disguise links, so `&`, `<` and `>` in such text are escaped as Slack's
formatting reference asks. Links are built here only, from http(s) URLs, percent-encoded
so that nothing in the URL can end the link or add a label, and with a label the bot
chose.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

# RFC 3986 reserved and unreserved characters, plus "%" so existing escapes stay as they
# are. Everything else ("|", "<", ">", spaces, quotes, control characters, non-ASCII) is
# percent-encoded, so it can neither close the link nor start a label.
_URL_SAFE = ":/?#[]@!$&'()*+,;=%-._~"
_WEB_SCHEMES = ("http", "https")


def escape(text: str) -> str:
    """`text` as literal mrkdwn: no mention, link or date markup survives."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def inline_code(text: str) -> str:
    """`text` in backticks, escaped, with no backtick that could end the span early."""
    return f"`{escape(text).replace('`', chr(39))}`"


def code_block(text: str, *, limit: int | None = None) -> str:
    """`text` as a Slack code block, escaped, with no fence that could end it early.

    With `limit`, the escaped text keeps its end (the newest log lines) within that many
    characters, saying how many lines were left out.
    """
    body = escape(text.replace("```", "'''")).rstrip("\n")
    if limit is not None and len(body) > limit:
        kept = body[-limit:]
        kept = kept.split("\n", 1)[1] if "\n" in kept else kept
        dropped = body[: len(body) - len(kept)].count("\n") + 1
        body = f"… {dropped} earlier line(s) not shown (Slack's message limit)\n{kept}"
    return f"```\n{body or '(empty)'}\n```"


def web_url(url: str) -> str | None:
    """`url` percent-encoded when it is an absolute http(s) URL, else None."""
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in _WEB_SCHEMES or not parts.netloc:
        return None
    return quote(url, safe=_URL_SAFE)


def link(url: str, label: str) -> str | None:
    """A mrkdwn link to an http(s) `url` with the bot's own `label`; None for other URLs."""
    safe = web_url(url)
    if safe is None:
        return None
    return f"<{escape(safe)}|{escape(label)}>"


def join_url(base: str, path: str, *, fragment: str = "") -> str | None:
    """`path` below `base` (keeping base's own path and query), with `fragment`.

    For Alertmanager's UI, whose pages live in the fragment (`#/silences/new?...`): an
    externalURL like `https://am.example/prefix?org=1` keeps its query where it belongs.
    """
    safe = web_url(base)
    if safe is None:
        return None
    parts = urlsplit(safe)
    joined = parts.path.rstrip("/") + "/" + path.lstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, joined, parts.query, fragment))
