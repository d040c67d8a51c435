"""Submissions and jobs (one job per recipient), and the only code that changes their state.

``create`` inserts a submission with its documents and jobs; ``lifecycle`` moves them through
rendering, dispatch, expiry, settling, cancel and retry; ``attempts`` owns every transition of a
call (claim, dialing, finish, reclaim) and the at-most-one-dial guarantee. ``model`` is the
vocabulary (states, phases, outcomes), ``retry`` the pure retry policy, ``repo`` the read
views, ``numbers`` and ``dialplan`` the recipient numbers and who may dial them."""
