"""Received faxes: where they go (inboxes, routing rules, block lists) and how each one becomes
durable, from the answered call to the stored image (docs/inbound.md)."""
