"""Paths name (service, endpoint) by Micro's rules."""

from __future__ import annotations

import pytest
from micro.gateway.routes import camel, endpoint_path, resolve


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("/helloworld", ("helloworld", "Helloworld.Call")),
        ("/foo/bar", ("foo", "Foo.Bar")),
        ("/foo/bar/baz", ("foo", "Bar.Baz")),
        ("/foo-bar/do-it", ("foo-bar", "FooBar.DoIt")),
        ("/foo/Foo.Bar", ("foo", "Foo.Bar")),
        ("/foo/Bar/Baz", ("foo", "Bar.Baz")),
        ("/v1/foo/bar/baz", ("v1.foo", "Bar.Baz")),
        ("/foo/bar/", ("foo", "Foo.Bar")),
    ],
)
def test_a_path_names_service_and_endpoint_as_micro_does(path: str, named: tuple[str, str]) -> None:
    assert resolve(path) == named


def test_the_root_path_names_no_service() -> None:
    assert resolve("/") is None


def test_camel_raises_each_dashed_word_and_keeps_the_rest() -> None:
    assert [camel("do-it"), camel("getUser"), camel("x")] == ["DoIt", "GetUser", "X"]


@pytest.mark.parametrize(("service", "endpoint"), [("helloworld", "Helloworld.Call"), ("v1.foo", "Bar.Baz")])
def test_the_canonical_path_of_an_endpoint_resolves_back_to_it(service: str, endpoint: str) -> None:
    assert resolve(endpoint_path(service, endpoint)) == (service, endpoint)
