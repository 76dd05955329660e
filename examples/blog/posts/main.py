"""posts: blog posts in the KV store, saved, queried by id, slug or tag, and deleted.

    Posts.Save    {"title": "Hello", "content": "...", "tags": ["intro"]}  -> {"post": {...}}
    Posts.Query   {"id": "..."} | {"slug": "hello"} | {"tag": "intro"} | {}  -> {"posts": [...]}, newest first
    Posts.Delete  {"id": "..."}   (for accounts holding the scope `blog.editor`)

Keys of the service's own database ("posts"): `id/<id>` the post (protobuf bytes), `slug/<slug>` its id,
`tag/<tag>/<id>` one entry per tag. Ids sort by creation time, so listing `id/` backwards is newest first.

Every save and delete is published on the event stream `blog.posts` once the post is written:
`{"type": "saved" | "deleted", "id", "tags", "old_tags"}` (`tags` the post's tags now, none once deleted;
`old_tags` those it had before). The tags service consumes them to keep its counts; posts does not wait for
it. Tags are lower-case words (letters, digits, dashes), checked here before anything is written.
"""

from __future__ import annotations

import re
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "proto"))

import blog_pb2
import blog_pb2_grpc
from micro.sdk import Context, Service, errors, requires

service = Service("posts", version="1.0.0")
TOPIC = "blog.posts"
_TAG = re.compile(r"[a-z0-9][a-z0-9-]{0,63}\Z")


def _new_id() -> str:
    # Milliseconds first: ids sort in creation order; the random part keeps same-millisecond posts apart.
    return f"{time.time_ns() // 1_000_000:013d}-{secrets.token_hex(3)}"


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


async def _load(post_id: str) -> blog_pb2.Post | None:
    record = await service.kv.get(f"id/{post_id}")
    return blog_pb2.Post.FromString(record.value) if record is not None else None


async def _announce(kind: str, post_id: str, tags: list[str], old_tags: list[str]) -> None:
    """Publish what happened to a post on `blog.posts` (answered once the event is stored and replicated)."""
    await service.events.publish(TOPIC, {"type": kind, "id": post_id, "tags": tags, "old_tags": old_tags})


class Posts(blog_pb2_grpc.PostsServicer):
    async def Save(self, request: blog_pb2.SavePostRequest, ctx: Context) -> blog_pb2.SavePostResponse:
        if not request.title.strip():
            raise errors.bad_request(service.name, "a post needs a title")
        old = await _load(request.id) if request.id else None
        if request.id and old is None:
            raise errors.not_found(service.name, f"no post {request.id}")
        for tag in request.tags:
            if not _TAG.match(tag):
                raise errors.bad_request(service.name, f"{tag!r} is not a tag: use lower-case letters, digits "
                                                       "and dashes")
        post_id = request.id or _new_id()
        slug = _slug(request.slug or request.title)
        if not slug:
            raise errors.bad_request(service.name, "the slug needs a letter or digit")
        owner = await service.kv.get(f"slug/{slug}")
        if owner is not None and owner.value.decode() != post_id:
            raise errors.conflict(service.name, f"slug {slug} is taken by post {owner.value.decode()}")
        now = int(time.time())
        post = blog_pb2.Post(id=post_id, title=request.title, slug=slug, content=request.content,
                             tags=list(dict.fromkeys(request.tags)), created=old.created if old else now,
                             updated=now)
        before = list(old.tags) if old else []
        await service.kv.put(f"id/{post_id}", post.SerializeToString())
        await service.kv.put(f"slug/{slug}", post_id)
        if old is not None and old.slug != slug:
            await service.kv.delete(f"slug/{old.slug}")
        for tag in post.tags:
            await service.kv.put(f"tag/{tag}/{post_id}", b"")
        for tag in set(before) - set(post.tags):
            await service.kv.delete(f"tag/{tag}/{post_id}")
        await _announce("saved", post_id, list(post.tags), before)
        return blog_pb2.SavePostResponse(post=post)

    async def Query(self, request: blog_pb2.QueryPostsRequest, ctx: Context) -> blog_pb2.QueryPostsResponse:
        if request.id or request.slug:
            post_id = request.id
            if not post_id:
                owner = await service.kv.get(f"slug/{request.slug}")
                post_id = owner.value.decode() if owner is not None else ""
            post = await _load(post_id) if post_id else None
            if post is None:
                raise errors.not_found(service.name, f"no post {request.id or request.slug}")
            return blog_pb2.QueryPostsResponse(posts=[post])
        if request.tag:
            entries = await service.kv.list(f"tag/{request.tag}/", reverse=True)
            ids = [entry.key.rsplit("/", 1)[1] for entry in entries]
            end = request.offset + request.limit if request.limit else None
            posts = [await _load(post_id) for post_id in ids[request.offset:end]]
            return blog_pb2.QueryPostsResponse(posts=[p for p in posts if p is not None])
        records = await service.kv.list("id/", limit=request.limit, offset=request.offset, reverse=True)
        return blog_pb2.QueryPostsResponse(posts=[blog_pb2.Post.FromString(r.value) for r in records])

    @requires("blog.editor")  # anyone the rules let call may write posts; only editors delete them
    async def Delete(self, request: blog_pb2.DeletePostRequest, ctx: Context) -> blog_pb2.DeletePostResponse:
        post = await _load(request.id)
        if post is None:
            raise errors.not_found(service.name, f"no post {request.id}")
        for tag in post.tags:
            await service.kv.delete(f"tag/{tag}/{post.id}")
        await service.kv.delete(f"slug/{post.slug}")
        await service.kv.delete(f"id/{post.id}")
        await _announce("deleted", post.id, [], list(post.tags))
        return blog_pb2.DeletePostResponse()


service.add_servicer(blog_pb2_grpc.add_PostsServicer_to_server, Posts())

if __name__ == "__main__":
    service.run()
