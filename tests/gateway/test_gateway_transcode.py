"""Codecs and descriptor loading, on their own."""

from __future__ import annotations

import pytest
from google.protobuf import descriptor_pb2
from micro.gateway.transcode import JsonCodec, ProtoCodec, load_descriptors, params_object
from micro.sdk.errors import MicroError

from gateway_services import library_descriptor_set

_SCHEMA = {
    "type": "object",
    "properties": {
        "n": {"type": "integer"},
        "big": {"type": ["string", "integer"]},
        "on": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "integer"}},
        "where": {"$ref": "#/components/schemas/Place"},
    },
}


def test_parameters_are_typed_by_the_schema() -> None:
    params = [
        ("n", "4"),
        ("big", "12"),
        ("on", "0"),
        ("tags", "1"),
        ("tags", "2"),
        ("where", '{"x": 1}'),
        ("s", "t"),
    ]
    assert params_object(params, _SCHEMA) == {
        "n": 4,
        "big": 12,
        "on": False,
        "tags": [1, 2],
        "where": {"x": 1},
        "s": "t",
    }


def test_a_parameter_that_does_not_parse_stays_text_for_validation_to_name() -> None:
    assert params_object([("n", "four")], _SCHEMA) == {"n": "four"}


def test_a_repeated_parameter_that_is_no_array_takes_its_last_value() -> None:
    assert params_object([("n", "1"), ("n", "2")], _SCHEMA) == {"n": 2}


def test_descriptors_load_with_an_import_the_set_leaves_out() -> None:
    files = descriptor_pb2.FileDescriptorSet.FromString(library_descriptor_set())
    del files.file[1]  # google/protobuf/timestamp.proto
    book = load_descriptors(files.SerializeToString()).FindMessageTypeByName("test.library.Book")
    assert book.fields_by_name["published"].message_type.full_name == "google.protobuf.Timestamp"


def test_a_descriptor_set_that_does_not_parse_is_internal() -> None:
    with pytest.raises(MicroError) as raised:
        load_descriptors(b"\xff\xff")
    assert raised.value.status == "INTERNAL"


def test_a_proto_codec_for_a_type_the_descriptors_lack_is_the_services_internal_error() -> None:
    pool = load_descriptors(library_descriptor_set())
    with pytest.raises(MicroError) as raised:
        ProtoCodec("library", pool, "test.library.Nope", "test.library.Book")
    assert (raised.value.id, raised.value.status) == ("library", "INTERNAL")


def test_a_proto_reply_that_does_not_parse_is_the_services_internal_error() -> None:
    pool = load_descriptors(library_descriptor_set())
    codec = ProtoCodec("library", pool, "test.library.Book", "test.library.Book")
    with pytest.raises(MicroError) as raised:
        codec.decode(b"\x0a\xff")
    assert (raised.value.id, raised.value.status) == ("library", "INTERNAL")


def test_a_json_codec_passes_the_request_bytes_through_unchanged() -> None:
    raw = b'{ "name" :"a" }'
    assert JsonCodec("helloworld", "", "").encode({"name": "a"}, raw) is raw


def test_a_registered_json_schema_that_is_invalid_is_the_services_internal_error() -> None:
    with pytest.raises(MicroError) as raised:
        JsonCodec("helloworld", '{"type": 5}', "")
    assert (raised.value.id, raised.value.status) == ("helloworld", "INTERNAL")
