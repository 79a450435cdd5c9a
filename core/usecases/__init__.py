"""Use cases: what a person, a flow or the CLI does, as plain functions over the ports.

Each takes the adapters it needs and a required :class:`core.access.Actor`, so the page, the flow
and the CLI share one implementation of every state change and every change says who made it.
"""
