"""The blog example end to end through the gateway of a real node: posts, comments and tags run by
`micro run`, talking to each other through the mesh (calls, and the `blog.posts` event stream that tags
consumes), their data in the KV store."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from node_harness import PATIENCE, wait_until
from openapi_spec_validator import validate
from services_harness import EXAMPLES, GatewayNode, gateway_node


@pytest.fixture(scope="module")
def blog() -> Iterator[GatewayNode]:
    for node in gateway_node():
        for service in ("tags", "posts", "comments"):
            node.run(EXAMPLES / "blog" / service, service)
        yield node


def _ok(blog: GatewayNode, path: str, body: dict[str, Any]) -> Any:
    status, answer = blog.post(path, body)
    assert status == 200, answer
    return answer


def _save(blog: GatewayNode, title: str, tags: list[str]) -> dict[str, Any]:
    post: dict[str, Any] = _ok(blog, "/posts/Posts/Save", {"title": title, "content": "text", "tags": tags})["post"]
    return post


def _counts(blog: GatewayNode) -> dict[str, int]:
    return {t["name"]: t["count"] for t in _ok(blog, "/tags/Tags/List", {})["tags"]}


def _counts_become(blog: GatewayNode, prefix: str, expected: dict[str, int]) -> None:
    """Tags counts from the `blog.posts` events: they follow a save within moments."""
    wait_until(lambda: {k: v for k, v in _counts(blog).items() if k.startswith(prefix)} == expected, PATIENCE,
               f"tag counts {expected}")


def test_saved_posts_are_found_by_tag_newest_first(blog: GatewayNode) -> None:
    first = _save(blog, "Tagged one", ["t-query"])
    second = _save(blog, "Tagged two", ["t-query", "t-other"])

    found = _ok(blog, "/posts/Posts/Query", {"tag": "t-query"})["posts"]

    assert [p["id"] for p in found] == [second["id"], first["id"]]


def test_a_post_is_found_by_its_slug(blog: GatewayNode) -> None:
    post = _save(blog, "Slug Me Please", [])

    found = _ok(blog, "/posts/Posts/Query", {"slug": "slug-me-please"})["posts"]

    assert [p["id"] for p in found] == [post["id"]]


def test_tag_counts_follow_saves_and_deletes(blog: GatewayNode) -> None:
    a = _save(blog, "Count a", ["c-one", "c-two"])
    _save(blog, "Count b", ["c-one"])
    _counts_become(blog, "c-", {"c-one": 2, "c-two": 1})

    _ok(blog, "/posts/Posts/Save", {"id": a["id"], "title": "Count a", "tags": ["c-two", "c-three"]})
    _counts_become(blog, "c-", {"c-one": 1, "c-two": 1, "c-three": 1})

    _ok(blog, "/posts/Posts/Delete", {"id": a["id"]})
    _counts_become(blog, "c-", {"c-one": 1})


def test_tags_count_the_blog_posts_events_in_its_group(blog: GatewayNode) -> None:
    _save(blog, "Evented", ["e-one"])
    _counts_become(blog, "e-", {"e-one": 1})

    info = json.loads(blog.ok("stream", "info", "blog.posts", "--json"))

    [group] = [g for g in info["groups"] if g["name"] == "tags"]
    assert len(group["consumers"]) == 1
    assert info["partitions"][0]["head"] >= 1


def test_posts_saved_while_tags_is_down_are_counted_when_it_comes_back(blog: GatewayNode) -> None:
    blog.ok("kill", "tags")
    _save(blog, "While tags was down", ["d-down"])

    blog.run(EXAMPLES / "blog" / "tags", "tags")

    _counts_become(blog, "d-", {"d-down": 1})


def test_comments_are_listed_by_post_in_order(blog: GatewayNode) -> None:
    post = _save(blog, "Commented", [])
    other = _save(blog, "Not commented", [])
    for message in ("first", "second"):
        _ok(blog, "/comments/Comments/New", {"post": post["id"], "author": "ann", "message": message})

    listed = _ok(blog, "/comments/Comments/List", {"post": post["id"]})["comments"]

    assert [(c["author"], c["message"]) for c in listed] == [("ann", "first"), ("ann", "second")]
    assert _ok(blog, "/comments/Comments/List", {"post": other["id"]}) == {"comments": []}


def test_a_comment_on_a_missing_post_is_404(blog: GatewayNode) -> None:
    status, error = blog.post("/comments/Comments/New", {"post": "nope", "message": "hi"})

    assert status == 404
    assert (error["id"], error["detail"]) == ("comments", "no post nope")


def test_a_malformed_tag_is_refused_by_posts_and_nothing_is_saved(blog: GatewayNode) -> None:
    status, error = blog.post("/posts/Posts/Save", {"title": "Bad tag", "tags": ["Not A Tag"]})

    assert status == 400 and error["id"] == "posts"
    assert blog.post("/posts/Posts/Query", {"slug": "bad-tag"})[0] == 404


def test_a_taken_slug_is_409(blog: GatewayNode) -> None:
    _save(blog, "Same title", [])

    assert blog.post("/posts/Posts/Save", {"title": "Same title"})[0] == 409


def test_the_cli_calls_a_protobuf_endpoint(blog: GatewayNode) -> None:
    post = _save(blog, "From the CLI", ["cli"])

    out = blog.ok("posts", "query", "--slug", "from-the-cli")

    assert '"id": "' + post["id"] + '"' in out


def test_a_repeated_flag_fills_a_repeated_field(blog: GatewayNode) -> None:
    out = blog.ok("posts", "save", "--title", "Flags", "--tags", "f-one", "--tags", "f-two")

    assert json.loads(out)["post"]["tags"] == ["f-one", "f-two"]


def test_describe_shows_protobuf_messages_as_fields(blog: GatewayNode) -> None:
    out = blog.ok("describe", "posts")

    assert "Posts.Query\n  request    {id: string, slug: string, tag: string, limit: integer, offset: integer}\n" \
           "  response   {posts: array of Post}\n  Post       {id: string, title: string" in out


def test_openapi_document_with_the_blog_validates(blog: GatewayNode) -> None:
    request = urllib.request.Request(f"http://{blog.gateway}/openapi.json",
                                     headers={"Authorization": f"Bearer {blog.token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        document = json.loads(response.read())

    validate(document)
    assert {"/posts/Posts/Save", "/comments/Comments/New", "/tags/Tags/List"} <= set(document["paths"])
