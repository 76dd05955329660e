"""comments: comments on blog posts, in the KV store.

    Comments.New   {"post": "<post id>", "author": "ann", "message": "Nice"}  -> {"comment": {...}}
    Comments.List  {"post": "<post id>"}  -> {"comments": [...]}, oldest first

A comment is kept under `post/<post id>/<comment id>` in the service's own database ("comments"), so a
post's comments are one prefix listing. New asks the posts service first whether the post exists.
"""

from __future__ import annotations

import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "proto"))

import blog_pb2
import blog_pb2_grpc
from micro.sdk import Client, Context, Service, errors

service = Service("comments", version="1.0.0")
posts = Client()


class Comments(blog_pb2_grpc.CommentsServicer):
    async def New(self, request: blog_pb2.NewCommentRequest, ctx: Context) -> blog_pb2.NewCommentResponse:
        if not request.post or not request.message.strip():
            raise errors.bad_request(service.name, "a comment needs a post and a message")
        try:
            await posts.call("posts", "Posts.Query", blog_pb2.QueryPostsRequest(id=request.post))
        except errors.NotFound:
            raise errors.not_found(service.name, f"no post {request.post}") from None
        # Milliseconds first, so listing a post's comments gives them in the order they were made.
        comment_id = f"{time.time_ns() // 1_000_000:013d}-{secrets.token_hex(3)}"
        comment = blog_pb2.Comment(id=comment_id, post=request.post, author=request.author or "anonymous",
                                   message=request.message, created=int(time.time()))
        await service.kv.put(f"post/{request.post}/{comment_id}", comment.SerializeToString())
        return blog_pb2.NewCommentResponse(comment=comment)

    async def List(self, request: blog_pb2.ListCommentsRequest, ctx: Context) -> blog_pb2.ListCommentsResponse:
        if not request.post:
            raise errors.bad_request(service.name, "name the post whose comments to list")
        records = await service.kv.list(f"post/{request.post}/")
        return blog_pb2.ListCommentsResponse(comments=[blog_pb2.Comment.FromString(r.value) for r in records])


service.add_servicer(blog_pb2_grpc.add_CommentsServicer_to_server, Comments())

if __name__ == "__main__":
    service.run()
