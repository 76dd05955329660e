"""Keys: printed ids, seed files, signatures and sealed boxes."""

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from micro.identity import (
    BadSignature,
    DecryptFailed,
    InvalidId,
    KeyKind,
    Malformed,
    PublicKey,
    SigningKey,
    seal_to,
    verify_raw,
)


@pytest.mark.parametrize("kind", list(KeyKind))
def test_id_is_kind_letter_then_52_base32_characters(kind: KeyKind) -> None:
    key_id = SigningKey.generate(kind).public.id
    assert len(key_id) == 53
    assert key_id[0] == kind.value
    assert set(key_id[1:]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")


@pytest.mark.parametrize("kind", list(KeyKind))
def test_id_round_trips_to_the_same_public_key(kind: KeyKind) -> None:
    public = SigningKey.generate(kind).public
    assert PublicKey.from_id(public.id) == public
    assert str(public) == public.id


def test_same_raw_key_of_different_kinds_is_a_different_key() -> None:
    raw = SigningKey.generate(KeyKind.NODE).public.raw
    assert PublicKey(KeyKind.NODE, raw) != PublicKey(KeyKind.ACCOUNT, raw)
    assert len({PublicKey(KeyKind.NODE, raw), PublicKey(KeyKind.NODE, raw)}) == 1


def _valid_id() -> str:
    return SigningKey.generate(KeyKind.NODE).public.id


@pytest.mark.parametrize(
    "mangle, reason",
    [
        (lambda i: i[:-1], "53"),
        (lambda i: i + "A", "53"),
        (lambda i: "X" + i[1:], "M, N or A"),
        (lambda i: i[0] + i[1:].lower(), "base32"),
        (lambda i: i[:10] + "1" + i[11:], "base32"),
        (lambda i: i[:-1] + ("B" if i[-1] != "B" else "C"), "base32"),  # nonzero padding bits
        (lambda i: "", "53"),
    ],
)
def test_from_id_rejects_malformed_ids_with_a_reason(mangle: Callable[[str], str], reason: str) -> None:
    with pytest.raises(InvalidId, match=reason):
        PublicKey.from_id(mangle(_valid_id()))


def test_from_id_rejects_non_text() -> None:
    with pytest.raises(InvalidId):
        PublicKey.from_id(b"N" * 53)  # type: ignore[arg-type]


def test_public_key_needs_32_raw_bytes() -> None:
    with pytest.raises(InvalidId):
        PublicKey(KeyKind.NODE, b"\x00" * 31)


def test_same_seed_gives_same_key() -> None:
    seed = bytes(range(32))
    assert SigningKey.from_seed(KeyKind.NODE, seed).public == SigningKey.from_seed(KeyKind.NODE, seed).public
    assert SigningKey.from_seed(KeyKind.NODE, seed).seed == seed


def test_seed_must_be_32_bytes() -> None:
    with pytest.raises(Malformed):
        SigningKey.from_seed(KeyKind.NODE, b"short")


def test_signature_is_64_bytes_and_verifies() -> None:
    key = SigningKey.generate(KeyKind.NODE)
    signature = key.sign(b"alive 3")
    assert len(signature) == 64
    key.public.verify(b"alive 3", signature)
    assert key.public.verify_ok(b"alive 3", signature)
    assert verify_raw(key.public.raw, b"alive 3", signature)


def test_altered_data_or_signature_does_not_verify() -> None:
    key = SigningKey.generate(KeyKind.NODE)
    signature = key.sign(b"alive 3")
    altered = bytes([signature[0] ^ 1]) + signature[1:]
    with pytest.raises(BadSignature, match=key.public.id):
        key.public.verify(b"alive 4", signature)
    with pytest.raises(BadSignature):
        key.public.verify(b"alive 3", altered)
    assert not key.public.verify_ok(b"alive 3", altered)


def test_signature_by_another_key_does_not_verify() -> None:
    signature = SigningKey.generate(KeyKind.NODE).sign(b"data")
    assert not SigningKey.generate(KeyKind.NODE).public.verify_ok(b"data", signature)


@pytest.mark.parametrize("raw_key, signature", [(b"", b""), (b"\x00" * 32, b"x"), (b"\xff" * 32, b"\x00" * 64)])
def test_verify_raw_answers_false_for_junk_instead_of_raising(raw_key: bytes, signature: bytes) -> None:
    assert verify_raw(raw_key, b"data", signature) is False


def test_saved_seed_file_has_mode_0600_and_reloads(tmp_path: Path) -> None:
    key = SigningKey.generate(KeyKind.MESH)
    path = tmp_path / "root.seed"
    key.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert text.startswith("M") and len(text.strip()) == 53
    loaded = SigningKey.load(path)
    assert loaded.kind is KeyKind.MESH
    assert loaded.public == key.public


def test_save_replaces_an_existing_file_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    path = tmp_path / "node.seed"
    SigningKey.generate(KeyKind.NODE).save(path)
    second = SigningKey.generate(KeyKind.NODE)
    second.save(path)
    assert SigningKey.load(path).public == second.public
    assert os.listdir(tmp_path) == ["node.seed"]


def test_load_refuses_a_file_others_can_read(tmp_path: Path) -> None:
    path = tmp_path / "node.seed"
    SigningKey.generate(KeyKind.NODE).save(path)
    path.chmod(0o644)
    with pytest.raises(Malformed, match="has mode 0644; expected 0600"):
        SigningKey.load(path)


@pytest.mark.parametrize(
    "content",
    [b"", b"hello", b"X" + b"A" * 52, b"N" + b"A" * 51, b"N" + b"a" * 52, b"\xff" * 53, b"N" + b"A" * 52 + b"\nextra"],
)
def test_load_refuses_a_file_that_is_not_a_seed_and_names_it(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "node.seed"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, content)
    os.close(fd)
    with pytest.raises(Malformed, match=str(path)):
        SigningKey.load(path)


def test_load_of_a_missing_file_is_malformed_and_names_it(tmp_path: Path) -> None:
    with pytest.raises(Malformed, match="missing.seed"):
        SigningKey.load(tmp_path / "missing.seed")


def test_load_with_an_expected_kind_refuses_another_kind(tmp_path: Path) -> None:
    path = tmp_path / "node.seed"
    SigningKey.generate(KeyKind.NODE).save(path)
    assert SigningKey.load(path, KeyKind.NODE).kind is KeyKind.NODE
    with pytest.raises(Malformed, match="holds a node key; expected a mesh key"):
        SigningKey.load(path, KeyKind.MESH)


def test_repr_does_not_show_the_seed() -> None:
    key = SigningKey.generate(KeyKind.NODE)
    assert repr(key) == f"SigningKey({key.public.id})"


def test_sealed_box_opens_only_with_the_recipients_key() -> None:
    recipient = SigningKey.generate(KeyKind.NODE)
    sealed = seal_to(recipient.public, b"gossip keyring")
    assert recipient.unseal(sealed) == b"gossip keyring"
    with pytest.raises(DecryptFailed):
        SigningKey.generate(KeyKind.NODE).unseal(sealed)


def test_altered_sealed_box_does_not_open() -> None:
    recipient = SigningKey.generate(KeyKind.NODE)
    sealed = bytearray(seal_to(recipient.public, b"gossip keyring"))
    sealed[-1] ^= 1
    with pytest.raises(DecryptFailed):
        recipient.unseal(bytes(sealed))
    with pytest.raises(DecryptFailed):
        recipient.unseal(b"short")


def test_an_exclusive_save_never_replaces_a_file(tmp_path: Path) -> None:
    path = tmp_path / "bob.creds"
    first, second = SigningKey.generate(KeyKind.ACCOUNT), SigningKey.generate(KeyKind.ACCOUNT)
    first.save(path, exclusive=True)
    with pytest.raises(FileExistsError):
        second.save(path, exclusive=True)
    assert SigningKey.load(path).public == first.public
    assert [p.name for p in tmp_path.iterdir()] == ["bob.creds"]  # no temporary file left behind
