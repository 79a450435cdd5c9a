"""Who acts: the :class:`Actor` every state-changing use case and manager method requires."""

from core.access.actor import Actor, Role

__all__ = ["Actor", "Role"]
