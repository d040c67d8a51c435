"""When and where faxes go: the dispatcher, the reconciler, line leases."""
