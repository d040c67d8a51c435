"""Accounts: who may send faxes, where their reports go."""
