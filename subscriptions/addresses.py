"""One spelling per mailbox: the address as stored, counted and looked up.

`bücher.de` and `xn--bcher-kva.de` are one domain, and `"ada"@example.org` is `ada@example.org`;
stored as typed they made two subscribers, two confirmations and two rate limits for one inbox.
Every way in (the sign-up and change-of-address forms, the services, the rate limits, the
lookups by address) goes through `address_normalize` or `address_key`.

The domain is stored in its ASCII form (IDNA, UTS 46 non-transitional: what browsers and mail
servers resolve), lower-case. The local part keeps its case: RFC 5321 leaves it to the receiving
server, and the project has always stored it as typed (only comparisons ignore its case, through
the unique index on lower(email), and so does `address_key`). Quotes that the local part does not
need are dropped; needed ones are kept, with only the escapes that are needed.
"""

from __future__ import annotations

import re

import idna

# RFC 5322's dot-atom: the local parts that need no quotes.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*")
# A quoted string as the whole local part: anything but a bare quote or backslash, or a pair.
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL)


class AddressError(ValueError):
    """An address that has no single spelling, with a message for the reader."""


def _local_normalize(local: str) -> str:
    quoted = _QUOTED.fullmatch(local)
    if quoted is None:
        return local
    # Undo the quoted-pairs (\x stands for x), then quote again only if the text needs it.
    text = re.sub(r"\\(.)", r"\1", quoted.group(1), flags=re.DOTALL)
    if _DOT_ATOM.fullmatch(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _domain_normalize(domain: str) -> str:
    labels = domain.split(".")
    if domain.isascii() and not any(label[:4].lower() == "xn--" for label in labels):
        # Plain ASCII: UTS 46 would only lower-case it (and refuse the odd name that mail
        # servers take, such as a label with "--" in third place), so it is left to that.
        return domain.lower()
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError) as error:
        raise AddressError(
            f"The domain “{domain}” is not a valid international domain name: check its spelling."
        ) from error


def address_normalize(address: str) -> str:
    """The address as stored: trimmed, domain in lower-case ASCII (IDNA), needless quotes gone.

    Raises AddressError when the domain is not a valid international domain name. Idempotent.
    """
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain:
        raise AddressError("Enter a complete email address, like name@example.org.")
    return f"{_local_normalize(local)}@{_domain_normalize(domain)}"


def address_key(address: str) -> str:
    """The key one mailbox has for rate limits and lookups, whatever its spelling or case.

    Never raises: an address without a single spelling (a webhook's, say) is keyed as typed.
    """
    try:
        return address_normalize(address).lower()
    except AddressError:
        return address.strip().lower()


def address_search_term(term: str) -> str:
    """An admin search as stored addresses spell it: international domains in their ASCII form."""
    return " ".join(_search_word(word) for word in term.split())


def _search_word(word: str) -> str:
    if word.isascii():
        return word
    local, at, domain = word.rpartition("@")
    try:
        return f"{local}{at}{_domain_normalize(domain)}"
    except AddressError:  # not a domain: searched as typed (and found nowhere: addresses are ASCII)
        return word
