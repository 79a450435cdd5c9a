"""Who is using the app, in the sidebar of every page: the person and their role, or local mode."""

from __future__ import annotations

import streamlit as st

from core.identity import DEFAULT_PROVIDER, SessionIdentity

LOCAL_NOTICE = "No identity provider configured — local admin, listening on {address}"


def identity_sidebar(identity: SessionIdentity) -> None:
    """The sidebar's who-am-I; the sign-in (or the refusal) in the page when nobody may act yet."""
    if identity.refusal:
        st.error(identity.refusal, icon=":material/gpp_bad:")
        return
    if not identity.provider.configured:
        _local(identity)
    elif identity.actor is None:
        _sign_in(identity.provider.providers)
    else:
        actor = identity.actor
        st.sidebar.markdown(f"**{actor.name or actor.email or actor.subject}** · {actor.role}")
        if actor.email and actor.name:
            st.sidebar.caption(actor.email)
        # Sign-out ends Streamlit's identity cookie, then this session.
        st.sidebar.button("Sign out", icon=":material/logout:", on_click=st.logout)


def _local(identity: SessionIdentity) -> None:
    st.sidebar.caption(LOCAL_NOTICE.format(address=identity.address or "every interface"))
    if identity.provider.problems:  # someone meant to configure one: say why it is not used
        problems = "; ".join(identity.provider.problems)
        st.sidebar.warning(f"The [auth] section is not used: {problems}.", icon=":material/key:")


def _sign_in(providers: tuple[str, ...]) -> None:
    st.info("Sign in to use the control room.", icon=":material/login:")
    for provider in providers:
        default = provider == DEFAULT_PROVIDER
        label = "Sign in" if default else f"Sign in with {provider}"
        args = () if default else (provider,)
        st.button(label, key=f"identity_sign_in_{provider}", on_click=st.login, args=args)
