"""Merkle paths: one root over a batch, each leaf's path leads to it and to nothing else."""

from __future__ import annotations

import pytest
from micro.mesh.merkle import HASH_SIZE, MAX_LEAVES, leaf_hash, paths, root_of


def leaves(n: int) -> list[bytes]:
    return [leaf_hash(f"item {i}".encode()) for i in range(n)]


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5, 7, 8, 9, 31, 33, 64, 70, MAX_LEAVES])
def test_every_leaf_s_path_leads_to_the_root(count: int) -> None:
    hashes = leaves(count)
    root, routes = paths(hashes)
    assert [root_of(h, r) for h, r in zip(hashes, routes, strict=True)] == [root] * count


def test_a_single_leaf_is_its_own_root() -> None:
    (leaf,) = leaves(1)
    assert paths([leaf]) == (leaf, [bytes(2) + (1).to_bytes(2, "big")])


def test_a_path_leads_elsewhere_from_another_leaf() -> None:
    hashes = leaves(9)
    root, routes = paths(hashes)
    assert root_of(hashes[1], routes[0]) != root
    assert root_of(leaf_hash(b"not in the batch"), routes[4]) != root


def test_a_path_with_an_altered_sibling_leads_elsewhere() -> None:
    hashes = leaves(6)
    root, routes = paths(hashes)
    altered = bytearray(routes[2])
    altered[4] ^= 1
    assert root_of(hashes[2], bytes(altered)) not in (None, root)


def test_a_path_whose_index_was_changed_leads_elsewhere() -> None:
    hashes = leaves(6)
    root, routes = paths(hashes)
    moved = routes[2][:1] + bytes([routes[2][1] + 1]) + routes[2][2:]
    assert root_of(hashes[2], moved) not in (None, root)


def test_a_path_whose_count_implies_another_shape_leads_nowhere() -> None:
    hashes = leaves(6)
    _, routes = paths(hashes)
    assert root_of(hashes[2], routes[2][:2] + (3).to_bytes(2, "big") + routes[2][4:]) is None


@pytest.mark.parametrize(
    "path",
    [
        b"",
        b"\x00\x00\x00",
        (5).to_bytes(2, "big") + (5).to_bytes(2, "big"),
        (0).to_bytes(2, "big") + (0).to_bytes(2, "big"),
        (0).to_bytes(2, "big") + (MAX_LEAVES + 1).to_bytes(2, "big") + bytes(HASH_SIZE * 11),
        (0).to_bytes(2, "big") + (4).to_bytes(2, "big") + bytes(HASH_SIZE),
        (0).to_bytes(2, "big") + (4).to_bytes(2, "big") + bytes(HASH_SIZE * 3),
        (0).to_bytes(2, "big") + (4).to_bytes(2, "big") + bytes(HASH_SIZE * 2 - 1),
    ],
    ids=["empty", "short", "index-past-count", "no-leaves", "too-many-leaves", "too-few-siblings",
         "too-many-siblings", "ragged"],
)
def test_a_malformed_path_leads_nowhere(path: bytes) -> None:
    assert root_of(leaf_hash(b"x"), path) is None


@pytest.mark.parametrize("count", [0, MAX_LEAVES + 1])
def test_a_tree_holds_one_to_max_leaves(count: int) -> None:
    with pytest.raises(ValueError):
        paths(leaves(count))
