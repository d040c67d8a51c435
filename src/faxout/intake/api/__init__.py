"""The status API (``/api/v1``): Bearer tokens, the JSON of a fax (``views``), the routes
(``routes``). docs/api.md is its manual."""
