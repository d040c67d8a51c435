"""The pure parts of labels and list filters: what is taken and what is a 422."""

from __future__ import annotations

import pytest

from faxout.intake.api.listing import labels_of, states_of
from faxout.intake.api.submit import Problem422, check_labels


def test_states_are_repeated_or_listed_once_each() -> None:
    assert states_of(["failed,partial", " Delivered ", "failed", ""]) == (
        "failed",
        "partial",
        "delivered",
    )
    with pytest.raises(Problem422, match="'sent' is not one of"):
        states_of(["delivered,sent"])


def test_a_label_filter_is_key_colon_value() -> None:
    assert labels_of(["a:b", "url:http://x:8080/", "empty:"]) == (
        ("a", "b"),
        ("url", "http://x:8080/"),
        ("empty", ""),
    )
    for bad in ("nocolon", ":value", "sp ace:v", "k:" + "v" * 257):
        with pytest.raises(Problem422, match="not key:value"):
            labels_of([bad])
    with pytest.raises(Problem422, match="at most 20"):
        labels_of([f"k{i}:v" for i in range(21)])


def test_label_rules() -> None:
    ok = {f"k{i}": "v" * 256 for i in range(20)}
    assert check_labels(ok) == ok
    assert check_labels({"A-z_0.9:x": ""}) == {"A-z_0.9:x": ""}
    for bad, says in [
        ({f"k{i}": "" for i in range(21)}, "at most 20"),
        ({"k" * 65: ""}, "1 to 64"),
        ({"é": ""}, "'é'"),
        ({"k": "v" * 257}, "at most 256"),
    ]:
        with pytest.raises(ValueError, match=says):
            check_labels(bad)
