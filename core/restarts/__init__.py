"""Local mode's restart policy, like compose's ``unless-stopped``: a service whose process died
(not stopped on purpose) is started again after a back-off, at most so many times in a window.

- :mod:`core.restarts.policy`: the arithmetic (back-off, limit, when the back-off starts again);
- :mod:`core.restarts.ledger`: what happened to each service, a JSON file beside its PID file;
- :mod:`core.restarts.watchdog`: the loop of ``make run`` that applies the policy.
"""
