"""What the forms check before asking the service, and the names they give an account.

Each error sits on the field that has it; the service is asked only once these pass.
"""

from __future__ import annotations

from collections.abc import Iterable
import ipaddress
import itertools
import re
from typing import Any

from homeassistant.const import CONF_EMAIL, CONF_PASSWORD, CONF_URL
from yarl import URL

from .api import DEFAULT_BASE_URL
from .const import CONF_ACCOUNT_EMAIL

EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# Host name endings that only resolve on a local network, where plain http is acceptable.
LOCAL_SUFFIXES = (".localhost", ".local", ".lan", ".home.arpa", ".internal")
# Carrier-grade NAT space, which Tailscale uses for its (already encrypted) private network.
SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")


def account_id(email: str) -> str:
    """Return the unique id of a BMW account: its e-mail, trimmed and lowercased."""
    return email.strip().lower()


def account_title(email: str, taken: Iterable[str] = ()) -> str:
    """Return an entry's title: the e-mail with its local part masked, unlike the titles taken.

    Home Assistant writes entry titles into its log, where the account e-mail must not appear;
    two accounts must still be told apart, so as many first letters show as that takes (never
    the whole local part), then a number.
    """
    local, _, domain = email.strip().partition("@")
    taken = set(taken)
    titles = [f"{local[:shown]}***@{domain}" for shown in range(1, max(len(local), 2))]
    numbered = (f"{titles[-1]} ({number})" for number in itertools.count(2))
    return next(title for title in itertools.chain(titles, numbered) if title not in taken)


def normalized(user_input: dict[str, Any], password: str) -> dict[str, Any]:
    """Return the entry data for a form's input: trimmed, with the defaults filled in.

    The Orange Power Connect account left empty is the MyBMW e-mail, as the service expects.
    """
    email = str(user_input[CONF_EMAIL]).strip()
    return {
        CONF_EMAIL: email,
        CONF_PASSWORD: password,
        CONF_ACCOUNT_EMAIL: str(user_input.get(CONF_ACCOUNT_EMAIL) or "").strip() or email,
        CONF_URL: str(user_input.get(CONF_URL) or DEFAULT_BASE_URL).strip().rstrip("/"),
    }


def input_errors(data: dict[str, Any]) -> dict[str, str]:
    """Return the form errors found without asking the service, each on its own field."""
    errors: dict[str, str] = {}
    if not EMAIL_PATTERN.fullmatch(data[CONF_EMAIL]):
        errors[CONF_EMAIL] = "invalid_email"
    elif not EMAIL_PATTERN.fullmatch(data[CONF_ACCOUNT_EMAIL]):
        # Only an account e-mail typed in can be wrong: an empty one is the MyBMW e-mail.
        errors[CONF_ACCOUNT_EMAIL] = "invalid_email"
    if not data[CONF_PASSWORD].strip():
        errors[CONF_PASSWORD] = "empty_password"
    if (url_error := _url_error(data[CONF_URL])) is not None:
        errors[CONF_URL] = url_error
    return errors


def refused_login_error(data: dict[str, Any]) -> str:
    """Return the error of a refused login: it names the fields that can be wrong.

    With an Orange Power Connect account e-mail of its own, that one can be wrong too.
    """
    if account_id(data[CONF_ACCOUNT_EMAIL]) != account_id(data[CONF_EMAIL]):
        return "invalid_auth_account"
    return "invalid_auth"


def _url_error(url: str) -> str | None:
    """Return what is wrong with a service address, or None.

    http(s) without credentials, query or fragment; plain http only to a local address.
    """
    # yarl reports an empty query or fragment as none at all; the client would still send the "?".
    if "?" in url or "#" in url:
        return "invalid_url"
    if "://" not in url and not url.lower().startswith(("http:", "https:")):
        return "url_needs_scheme"
    try:
        parsed = URL(url)
    except ValueError:
        return "invalid_url"
    if not parsed.host or parsed.scheme not in ("http", "https"):
        return "invalid_url"
    if parsed.user or parsed.password or parsed.query_string or parsed.fragment:
        return "invalid_url"
    return None if parsed.scheme == "https" or _is_local_host(parsed.host) else "url_needs_https"


def _is_local_host(host: str) -> bool:
    """Return whether the host is a loopback or private-network address or a local name."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        name = host.lower().rstrip(".")
        return name == "localhost" or name.endswith(LOCAL_SUFFIXES) or "." not in name
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address in SHARED_ADDRESS_SPACE
    )
