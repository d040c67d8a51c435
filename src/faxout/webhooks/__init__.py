"""Webhooks: an account's endpoints hear about its faxes, signed, from a durable outbox."""
