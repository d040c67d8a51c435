"""When and where faxes go (HylaFAX's faxq): the dispatch loop and its queries
(``dispatcher``), the reconciler that puts right what dead workers leave (``reconciler``) and
the line leases that cap concurrent calls (``lines``)."""
