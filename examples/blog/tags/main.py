"""tags: which posts carry which tags, and how many posts each tag has.

    Tags.Add     {"post": "<post id>", "tags": ["intro", "news"]}
    Tags.Remove  {"post": "<post id>", "tags": ["news"]}
    Tags.List    {}  -> {"tags": [{"name": "intro", "count": 1}, ...]}, by name

The posts service does not call it: tags consumes the event stream `blog.posts` in the group "tags"
(`{"type": "saved" | "deleted", "id", "tags", "old_tags"}`), from the start of the stream the first time
the group runs, then from where the group left off, one event at a time. An event sets the post's pairs to
its `tags` (and removes those of `old_tags` it lost), so an event delivered twice changes nothing. A
handler that fails nacks the event, which comes again; after 5 attempts it goes to `blog.posts.dead`.

Each (tag, post) pair is one key `tag/<tag>/<post id>` in the service's own database ("tags"): adding a
pair twice changes nothing, and a count is the number of keys under its tag, so counts stay right
however often a post is saved. Tags are lower-case words: letters, digits and dashes.
"""

from __future__ import annotations

import collections
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "proto"))

import blog_pb2
import blog_pb2_grpc
from micro.sdk import Context, Service, errors, events

service = Service("tags", version="1.0.0")
_TAG = re.compile(r"[a-z0-9][a-z0-9-]{0,63}\Z")


def _keys(request: blog_pb2.TagPostRequest) -> list[str]:
    if not request.post:
        raise errors.bad_request(service.name, "name the post to tag")
    for tag in request.tags:
        if not _TAG.match(tag):
            raise errors.bad_request(service.name, f"{tag!r} is not a tag: use lower-case letters, digits "
                                                   "and dashes")
    return [f"tag/{tag}/{request.post}" for tag in request.tags]


@service.consume("blog.posts", group="tags", from_start=True, max_in_flight=1)
async def post_changed(event: events.Event) -> None:
    """Keep the pairs of one post as a `blog.posts` event says (in order: one event in flight at a time)."""
    change = event.json()
    post, tags = change["id"], change["tags"]
    for tag in tags:
        await service.kv.put(f"tag/{tag}/{post}", b"")
    for tag in set(change["old_tags"]) - set(tags):
        await service.kv.delete(f"tag/{tag}/{post}")


class Tags(blog_pb2_grpc.TagsServicer):
    async def Add(self, request: blog_pb2.TagPostRequest, ctx: Context) -> blog_pb2.TagPostResponse:
        for key in _keys(request):
            await service.kv.put(key, b"")
        return blog_pb2.TagPostResponse()

    async def Remove(self, request: blog_pb2.TagPostRequest, ctx: Context) -> blog_pb2.TagPostResponse:
        for key in _keys(request):
            await service.kv.delete(key)
        return blog_pb2.TagPostResponse()

    async def List(self, request: blog_pb2.ListTagsRequest, ctx: Context) -> blog_pb2.ListTagsResponse:
        counts = collections.Counter(record.key.split("/")[1] for record in await service.kv.list("tag/"))
        return blog_pb2.ListTagsResponse(
            tags=[blog_pb2.Tag(name=name, count=count) for name, count in sorted(counts.items())])


service.add_servicer(blog_pb2_grpc.add_TagsServicer_to_server, Tags())

if __name__ == "__main__":
    service.run()
