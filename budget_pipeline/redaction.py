"""Keeping credentials (the admin key, the webhook URL) out of every text a user can see.

A library rarely prints a secret the way it was configured: httpx shows an illegal header value
as escaped bytes (`b'sk-ant-…\\n'`), normalises a URL (lower-case host, `%20` for a space), and
an exception's repr escapes it once more. Redacting only the configured string lets all of those
through, so `secret_forms` lists every spelling and `redact` removes them all.
"""

import functools
import json
import logging
import re
import threading
from collections.abc import Iterable, Iterator
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

import httpx

REDACTED = "[redacted]"

# A URL's path (or a segment of it) is redacted on its own only when it is this long: a Slack
# webhook's secret is its path, but a path of "/" or "/hooks" would redact half of every line.
_MIN_PATH_FORM = 8
_MIN_SEGMENT_FORM = 16

_PERCENT_ESCAPE = re.compile(r"%[0-9A-F]{2}")
# Printable ASCII that no quoting changes, and how long a run of it must be to stand for the secret.
_UNESCAPED_RUN = re.compile(r"[!#-&(-\[\]-~]+")
_MIN_RUN_FORM = 8
# Any piece of a secret this long is redacted wherever it appears, so a text cut in the middle of
# a secret keeps at most 11 of its characters: no more than the prefix every admin key shares
# (`sk-ant-admin`).
MIN_FRAGMENT = 12


def _escapings(text: str) -> set[str]:
    """How one level of quoting may print `text`: repr, escaped bytes, JSON, percent-encoding."""
    forms = {
        repr(text)[1:-1],
        text.encode("unicode_escape").decode("ascii"),
        repr(text.encode("utf-8"))[2:-1],
        json.dumps(text)[1:-1],
        json.dumps(text, ensure_ascii=False)[1:-1],
    }
    for encoded in (quote(text, safe=""), quote(text, safe="/:@"), quote_plus(text)):
        forms |= {encoded, _PERCENT_ESCAPE.sub(lambda m: m.group(0).lower(), encoded)}
    return forms


def _url_spellings(url: str) -> set[str]:
    """The URL as httpx and urllib normalise it, and its path: the part that is the secret."""
    spellings: set[str] = set()
    try:
        parts = urlsplit(url)
        spellings.add(urlunsplit(parts._replace(netloc=parts.netloc.lower())))
    except ValueError:
        pass
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return spellings
    spellings.add(str(parsed))
    raw_path = parsed.raw_path.decode("ascii")
    for path in (raw_path, parsed.path, raw_path.split("?")[0]):
        if len(path) >= _MIN_PATH_FORM:
            spellings.add(path)
        spellings |= {s for s in path.split("/") if len(s) >= _MIN_SEGMENT_FORM}
    return spellings


@functools.lru_cache(maxsize=64)
def _forms(secret: str) -> frozenset[str]:
    bases = {secret, secret.strip()}
    if "://" in secret:
        bases |= _url_spellings(secret.strip())
    forms: set[str] = set()
    for base in bases:
        once = _escapings(base)
        forms |= {base} | once
        # An exception's repr quotes a message that already quoted the secret.
        for quoted in once:
            forms |= _escapings(quoted)
    # Escaped once more (a repr of a dict of reprs), a character such as a line break inside the
    # secret grows another backslash; the runs between such characters are kept as they are.
    for base in bases:
        forms |= {run for run in _UNESCAPED_RUN.findall(base) if len(run) >= _MIN_RUN_FORM}
    return frozenset(form for form in forms if form)


def secret_forms(secret: str) -> set[str]:
    """Every spelling of `secret` a library may print: as configured, stripped, escaped (repr,
    `b'…\\n'` bytes, JSON, twice over), percent-encoded, and for a URL its normalised forms."""
    if not secret:
        return set()
    return set(_forms(secret))


@functools.lru_cache(maxsize=64)
def _pattern(secrets: frozenset[str]) -> re.Pattern[str] | None:
    forms = {form for secret in secrets if secret for form in _forms(secret)}
    if not forms:
        return None
    # Longest first: a spelling that contains another must go whole, leaving no fragment.
    return re.compile("|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)))


def _secret_parts(secret: str) -> set[str]:
    """What of `secret` gives it away: a key whole, a URL its path and query (the host is no
    secret: a Slack webhook's secret is its path), in every spelling."""
    if "://" not in secret:
        return set(_forms(secret))
    parts: set[str] = set()
    for url in {secret, secret.strip()}:
        try:
            parts.add(urlsplit(url)._replace(scheme="", netloc="").geturl())
            parsed = httpx.URL(url.strip())
        except (httpx.InvalidURL, TypeError, ValueError):
            continue
        parts |= {parsed.raw_path.decode("ascii"), parsed.path}
    spellings: set[str] = set()
    for part in parts:
        spellings |= {part} | _escapings(part)
    return spellings


@functools.lru_cache(maxsize=64)
def _fragments(secrets: frozenset[str]) -> tuple[frozenset[str], re.Pattern[str]] | None:
    """Every MIN_FRAGMENT-long piece of every secret's telling part, and a pattern of the runs
    of text made only of the characters those pieces use (where a piece can be)."""
    pieces = {
        part[start : start + MIN_FRAGMENT]
        for secret in secrets
        if secret
        for part in _secret_parts(secret)
        for start in range(len(part) - MIN_FRAGMENT + 1)
    }
    if not pieces:
        return None
    alphabet = "".join(re.escape(char) for char in sorted(set("".join(pieces))))
    return frozenset(pieces), re.compile(f"[{alphabet}]{{{MIN_FRAGMENT},}}")


def _fragment_spans(text: str, secrets: frozenset[str]) -> Iterator[tuple[int, int]]:
    """Where `text` has runs of characters made of pieces of a secret."""
    fragments = _fragments(secrets)
    if fragments is None:
        return
    pieces, runs = fragments
    for run in runs.finditer(text):
        chars = run.group()
        for start in range(len(chars) - MIN_FRAGMENT + 1):
            if chars[start : start + MIN_FRAGMENT] in pieces:
                yield run.start() + start, run.start() + start + MIN_FRAGMENT


def redact(text: str, secrets: Iterable[str], replacement: str = REDACTED) -> str:
    """`text` with every spelling of every secret replaced, and every piece of one that is at
    least MIN_FRAGMENT characters long: a text cut short (an error page cut to a length, a
    gateway echoing part of a header) may hold a secret that is no longer whole."""
    secrets = frozenset(secrets)
    pattern = _pattern(secrets)
    if pattern is None or not text:
        return text
    # Both on the text as given: a spelling replaced first would break the pieces around it.
    spans = sorted([m.span() for m in pattern.finditer(text)] + [*_fragment_spans(text, secrets)])
    kept: list[str] = []
    done = 0
    for start, end in spans:
        if start > done or not kept:
            kept += [text[done:start], replacement]
        done = max(done, end)
    return "".join(kept) + text[done:]


# httpx logs each request's URL at INFO and httpcore each failure's exception at DEBUG, each to a
# logger of its own (a filter on "httpcore" does not reach "httpcore.http11").
HTTP_LOGGERS = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)

_protected: dict[str, str] = {}
_protected_lock = threading.Lock()


class _RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        with _protected_lock:
            protected = dict(_protected)
        if not protected:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's to report, not ours
            return True
        redacted = message
        for secret, replacement in protected.items():
            redacted = redact(redacted, [secret], replacement)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


_filter = _RedactSecrets()
for _name in HTTP_LOGGERS:
    logging.getLogger(_name).addFilter(_filter)


def protect_in_http_logs(secret: str, replacement: str = REDACTED) -> None:
    """From now on, every spelling of `secret` is redacted from httpx's and httpcore's logs."""
    if secret:
        with _protected_lock:
            _protected[secret] = replacement
