"""The SDK's one error hierarchy: Micro's {id, code, detail, status}, and the mapping from gRPC failures."""

from __future__ import annotations

import grpc
import pytest
from micro.sdk import errors


class _Failed(grpc.RpcError):
    """A failed call as grpc reports one: a status code and details."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


@pytest.mark.parametrize(
    ("status", "kind", "code"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, errors.BadRequest, 400),
        (grpc.StatusCode.FAILED_PRECONDITION, errors.BadRequest, 400),
        (grpc.StatusCode.UNAUTHENTICATED, errors.Unauthorized, 401),
        (grpc.StatusCode.PERMISSION_DENIED, errors.Forbidden, 403),
        (grpc.StatusCode.NOT_FOUND, errors.NotFound, 404),
        (grpc.StatusCode.DEADLINE_EXCEEDED, errors.Timeout, 408),
        (grpc.StatusCode.ALREADY_EXISTS, errors.Conflict, 409),
        (grpc.StatusCode.ABORTED, errors.Conflict, 409),
        (grpc.StatusCode.INTERNAL, errors.Internal, 500),
        (grpc.StatusCode.UNKNOWN, errors.Internal, 500),
        (grpc.StatusCode.UNAVAILABLE, errors.Unavailable, 503),
    ],
)
def test_each_grpc_status_becomes_its_kind_with_micro_code(status: grpc.StatusCode, kind: type, code: int) -> None:
    error = errors.from_grpc(_Failed(status, "what went wrong"), "micro.node")

    assert type(error) is kind
    assert error.to_dict() == {"id": "micro.node", "code": code, "detail": "what went wrong", "status": status.name}
    assert error.grpc_status == status


@pytest.mark.parametrize(("status", "code"), [(grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
                                              (grpc.StatusCode.UNIMPLEMENTED, 501)])
def test_statuses_without_a_kind_keep_their_own_code(status: grpc.StatusCode, code: int) -> None:
    error = errors.from_grpc(_Failed(status, "no"), "micro.node")

    assert type(error) is errors.MicroError
    assert (error.code, error.status) == (code, status.name)


def test_a_micro_error_carried_in_the_details_keeps_the_services_id_and_code() -> None:
    sent = errors.MicroError("blog.posts", 422, "title is required", "INVALID_ARGUMENT")

    error = errors.from_grpc(_Failed(grpc.StatusCode.INVALID_ARGUMENT, sent.to_json()), "micro.node")

    assert isinstance(error, errors.BadRequest)
    assert error.to_dict() == sent.to_dict()


def test_details_that_only_look_like_json_are_the_detail() -> None:
    error = errors.from_grpc(_Failed(grpc.StatusCode.NOT_FOUND, "{not json"), "micro.node")

    assert (type(error), error.detail) == (errors.NotFound, "{not json")


def test_empty_details_still_say_what_failed() -> None:
    assert str(errors.from_grpc(_Failed(grpc.StatusCode.INTERNAL, ""), "x")) == "the call failed (INTERNAL)"


def test_helpers_build_the_kind_micro_names_them_for() -> None:
    made = [errors.bad_request("s", "d"), errors.unauthorized("s", "d"), errors.forbidden("s", "d"),
            errors.not_found("s", "d"), errors.timeout("s", "d"), errors.conflict("s", "d"),
            errors.internal("s", "d"), errors.unavailable("s", "d")]

    assert [(e.code, e.status) for e in made] == [
        (400, "INVALID_ARGUMENT"), (401, "UNAUTHENTICATED"), (403, "PERMISSION_DENIED"), (404, "NOT_FOUND"),
        (408, "DEADLINE_EXCEEDED"), (409, "ALREADY_EXISTS"), (500, "INTERNAL"), (503, "UNAVAILABLE"),
    ]
    assert all(isinstance(e, errors.MicroError) and e.id == "s" and str(e) == "d" for e in made)
