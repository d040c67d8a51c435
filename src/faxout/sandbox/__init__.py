"""Jails for every process that reads a user's bytes, and the private directories they use.

``jail`` runs a converter with bubblewrap in namespaces of its own, as an unprivileged uid
with rlimits; ``workspace`` makes the 0700, unguessably named work directories under the data
directory and removes those a crashed process left behind. docs/security.md says what each
boundary stops.
"""
