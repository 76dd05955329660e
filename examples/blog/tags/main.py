"""tags: which posts carry which tags, and how many posts each tag has.

    Tags.Add     {"post": "<post id>", "tags": ["intro", "news"]}
    Tags.Remove  {"post": "<post id>", "tags": ["news"]}
    Tags.List    {}  -> {"tags": [{"name": "intro", "count": 1}, ...]}, by name

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
from micro.sdk import Context, Service, errors

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
