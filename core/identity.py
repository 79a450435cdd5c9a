"""Who may reach the control room: its identity provider, its bind address, the signed-in person.

Streamlit's ``st.login`` reads an ``[auth]`` section from its ``secrets.toml`` files. This module
reads the same files (without importing Streamlit) to answer whether an identity provider is
configured, and refuses a bind address other than loopback when none is: without one, the person
at the keyboard is the local admin, and anyone who could reach a wider address would be too.
"""

from __future__ import annotations

import ipaddress
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.access.actor import Actor, Role

SECRETS_EXAMPLE = ".streamlit/secrets.toml.example"
SHARED_KEYS = ("redirect_uri", "cookie_secret")  # [auth] itself, for every provider
PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")  # each provider's own
DEFAULT_PROVIDER = "default"  # the unnamed provider: its keys sit in [auth] itself


@dataclass(frozen=True, slots=True)
class IdentityProvider:
    """What the ``[auth]`` section of the secrets files configures.

    Attributes:
        providers: Names to pass to ``st.login``; ``"default"`` is the unnamed provider
            (``st.login()`` with no argument). Empty: no provider.
        problems: What keeps ``st.login`` from working, in words (a missing key…).
        source: The file the ``[auth]`` section came from, if any.
    """

    providers: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    source: Path | None = None

    @property
    def configured(self) -> bool:
        """Whether a person can sign in: at least one complete provider and no problem."""
        return bool(self.providers) and not self.problems


@dataclass(frozen=True, slots=True)
class SessionIdentity:
    """Who is using one session of the app, and on what terms.

    Attributes:
        provider: What the secrets files configure.
        address: Where the app listens (``""``: every interface).
        actor: Who acts; None when nobody may act yet (refused, or not signed in).
        refusal: Why the app refuses to serve at all, when it does.
    """

    provider: IdentityProvider
    address: str
    actor: Actor | None
    refusal: str | None = None


def resolve_session(
    provider: IdentityProvider,
    address: str,
    claims: Mapping[str, Any] | None,
    role_of: Callable[[Mapping[str, Any]], Role],
) -> SessionIdentity:
    """Decide who a session acts as.

    Without a provider the session is the local admin, on loopback only. With one, it is the
    signed-in person, whose role ``role_of`` decides from the ID token's claims.

    Args:
        provider: What the secrets files configure.
        address: Where the app listens.
        claims: The signed-in person's ID-token claims; None when nobody is signed in.
        role_of: The role of a signed-in person (called only when someone is).

    Returns:
        The session's identity; its ``actor`` is None when the page must not go on.
    """
    if not provider.configured:
        refusal = binding_refusal(address, provider)
        actor = None if refusal else Actor.local_admin()
        return SessionIdentity(provider, address, actor, refusal)
    if claims is None:
        return SessionIdentity(provider, address, None)
    try:
        return SessionIdentity(provider, address, actor_from_claims(claims, role_of(claims)))
    except ValueError as exc:  # signed in, yet with no identity to record
        return SessionIdentity(provider, address, None, f"Sign-in refused: {exc}.")


def secrets_files(
    project_dir: Path, script: Path, home: Path | None = None, chosen: Path | None = None
) -> list[Path]:
    """The files Streamlit reads secrets from, first to last (a later file wins).

    Args:
        project_dir: The directory Streamlit is started from (its ``.streamlit/`` folder).
        script: The main script (``app/Home.py``), whose folder may hold ``.streamlit/`` too.
        home: The user's home directory (``~/.streamlit/``); default: the current user's.
        chosen: The one file Streamlit is given instead (its ``secrets.files`` option, which
            ``make run`` sets from ``RAKUTEN_SECRETS_FILE``); None: Streamlit's own files.

    Returns:
        The candidate paths, whether or not they exist, in Streamlit's order.
    """
    if chosen is not None:
        return [chosen.resolve()]
    home = home if home is not None else Path.home()
    files = [home / ".streamlit" / "secrets.toml", project_dir / ".streamlit" / "secrets.toml"]
    script_level = script.parent / ".streamlit" / "secrets.toml"
    return files if script_level in files else [*files, script_level]


def read_identity_provider(files: Iterable[Path]) -> IdentityProvider:
    """Read the ``[auth]`` section the way Streamlit does, and say what it configures.

    Like Streamlit, a later file's top-level ``[auth]`` replaces an earlier one's; a file that
    does not exist is skipped. A file that is not valid TOML is a problem, not an exception.

    Args:
        files: Secrets files, first to last (see :func:`secrets_files`).

    Returns:
        The providers a person could sign in with, and what is wrong with the section.
    """
    auth: Mapping[str, Any] | None = None
    source: Path | None = None
    for path in files:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            continue
        except OSError as exc:
            return IdentityProvider(problems=(f"{path} cannot be read: {exc.strerror}",))
        try:
            section = tomllib.loads(text).get("auth")
        except tomllib.TOMLDecodeError as exc:
            return IdentityProvider(problems=(f"{path} is not valid TOML: {exc}",), source=path)
        if section is not None:
            auth, source = section, path
    if auth is None:
        return IdentityProvider()
    if not isinstance(auth, Mapping):
        return IdentityProvider(problems=("[auth] must be a table",), source=source)
    return _describe(auth, source)


def _describe(auth: Mapping[str, Any], source: Path | None) -> IdentityProvider:
    problems = [f"[auth] lacks {key}" for key in SHARED_KEYS if not auth.get(key)]
    providers: list[str] = []
    candidates = {DEFAULT_PROVIDER: auth} if _looks_like_provider(auth) else {}
    candidates |= {
        name: section
        for name, section in auth.items()
        if isinstance(section, Mapping) and _looks_like_provider(section)
    }
    for name, section in candidates.items():
        table = "[auth]" if name == DEFAULT_PROVIDER else f"[auth.{name}]"
        missing = [key for key in PROVIDER_KEYS if not section.get(key)]
        if "_" in name:  # st.login cannot address it
            problems.append(f"{table}: provider names may not contain '_'")
        elif missing:
            problems.append(f"{table} lacks {', '.join(missing)}")
        else:
            providers.append(name)
    if not candidates:
        problems.append("[auth] names no provider (client_id, client_secret, server_metadata_url)")
    return IdentityProvider(tuple(providers), tuple(problems), source)


def _looks_like_provider(section: Mapping[str, Any]) -> bool:
    # As Streamlit tells a provider's table from options such as client_kwargs.
    return any(key in section for key in PROVIDER_KEYS)


def is_loopback(address: str) -> bool:
    """Whether a bind address only accepts connections from this machine.

    Args:
        address: A host name or IP address (``""`` and ``0.0.0.0`` mean every interface).

    Returns:
        True for ``localhost`` and the loopback networks (127.0.0.0/8, ::1).
    """
    host = address.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost may resolve anywhere
        return False


def binding_refusal(address: str, provider: IdentityProvider) -> str | None:
    """Why the app may not listen on ``address``, or None when it may.

    Args:
        address: Where the app listens (``""``: every interface, Streamlit's default).
        provider: What the secrets files configure (see :func:`read_identity_provider`).

    Returns:
        A message naming what to configure, or None (loopback, or a provider is configured).
    """
    if provider.configured or is_loopback(address):
        return None
    shown = address or "every interface"
    problems = "".join(f"\n  - {problem}" for problem in provider.problems)
    found = f" The [auth] section found has problems:{problems}" if problems else ""
    return (
        f"Refusing to listen on {shown}: no identity provider is configured, so anyone who can "
        "reach that address would act as the local admin. Configure one in the [auth] section "
        f"of .streamlit/secrets.toml (see {SECRETS_EXAMPLE}), or listen on 127.0.0.1 "
        f"(RAKUTEN_APP_ADDRESS=127.0.0.1).{found}"
    )


def actor_from_claims(claims: Mapping[str, Any], role: Role) -> Actor:
    """The signed-in person, from the ID token's claims (``st.user``).

    Args:
        claims: At least ``sub``; ``email`` and ``name`` where the provider gives them.
        role: What the person may do, decided by the caller (claims, assignments, default).

    Returns:
        An ``oidc`` actor.

    Raises:
        ValueError: The claims carry no subject (no stable identity to record).
    """
    subject = str(claims.get("sub") or "").strip()
    if not subject:
        raise ValueError("the identity provider's token has no 'sub' claim")
    email, name = claims.get("email"), claims.get("name")
    return Actor(
        subject=subject,
        via="oidc",
        role=role,
        email=str(email) if email else None,
        name=str(name) if name else None,
    )
