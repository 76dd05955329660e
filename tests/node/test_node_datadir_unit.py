"""The data dir module on its own: layout, atomic files, generations, locking."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from micro.node.api.datadir import MAX_SOCKET_PATH, DataDir, MeshFile
from micro.node.api.errors import AlreadyRunning, InvalidArgument, NodeError


def test_resolve_prefers_option_then_environment_then_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MICRO_DATA_DIR", str(tmp_path / "env"))
    assert DataDir.resolve(str(tmp_path / "opt")).path == tmp_path / "opt"
    assert DataDir.resolve(None).path == tmp_path / "env"
    monkeypatch.delenv("MICRO_DATA_DIR")
    assert DataDir.resolve(None).path == Path("~/.micro").expanduser()


def test_files_round_trip_with_private_modes(tmp_path: Path) -> None:
    dd = DataDir(tmp_path / "d")
    dd.create()
    mesh = MeshFile(mesh=b"m" * 32, chain=b"chain", keyring=b"ring")

    dd.save_mesh(mesh)
    dd.save_members(["127.0.0.1:2", "127.0.0.1:1", "127.0.0.1:2"])

    assert stat.S_IMODE(dd.path.stat().st_mode) == 0o700
    assert dd.load_mesh() == mesh
    assert dd.load_members() == ["127.0.0.1:1", "127.0.0.1:2"]
    for path in (dd.mesh_file, dd.members_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in dd.path.iterdir()) == ["members.cbor", "mesh.cbor"]


def test_generation_is_durable_and_increasing(tmp_path: Path) -> None:
    dd = DataDir(tmp_path)
    assert [dd.next_generation() for _ in range(3)] == [1, 2, 3]
    assert DataDir(tmp_path).next_generation() == 4


def test_corrupt_files_are_reported_not_raised_raw(tmp_path: Path) -> None:
    dd = DataDir(tmp_path)
    dd.mesh_file.write_bytes(b"\xff\x00 not cbor")
    dd.generation_file.write_text("seven")

    with pytest.raises(NodeError, match="corrupt"):
        dd.load_mesh()
    with pytest.raises(NodeError, match="corrupt"):
        dd.next_generation()


def test_one_lock_per_directory(tmp_path: Path) -> None:
    first, second = DataDir(tmp_path), DataDir(tmp_path)
    first.lock()
    try:
        with pytest.raises(AlreadyRunning):
            second.lock()
    finally:
        first.unlock()
    second.lock()
    second.unlock()


def test_socket_path_too_long_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="too long"):
        DataDir(tmp_path / ("x" * 120)).create()


def test_a_path_too_long_for_an_instances_sockets_is_refused_though_node_sock_would_fit(tmp_path: Path) -> None:
    # The longest socket is an instance's call link, <data dir>/instances/<12 hex>.link.sock.
    longest = len("/instances/0123456789ab.link.sock")
    fits = tmp_path / ("x" * (MAX_SOCKET_PATH - longest - len(str(tmp_path)) - 1))
    dd = DataDir(f"{fits}x")
    assert len(str(dd.socket)) <= MAX_SOCKET_PATH

    with pytest.raises(InvalidArgument, match=rf"too long for the unix sockets in it \({len(str(dd.path))} bytes, "
                                              rf"at most {len(str(fits))}\)"):
        dd.create()
    DataDir(fits).create()


def test_the_instances_directory_is_made_private(tmp_path: Path) -> None:
    dd = DataDir(tmp_path)
    dd.instances.mkdir(mode=0o755)
    dd.instances.chmod(0o755)

    assert dd.make_instances() == tmp_path / "instances"
    assert stat.S_IMODE(dd.instances.stat().st_mode) == 0o700


def test_an_instances_path_that_is_not_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "instances").symlink_to(tmp_path / "elsewhere")

    with pytest.raises(NodeError, match="is not a directory"):
        DataDir(tmp_path).make_instances()


def test_instances_are_not_made_without_a_data_dir(tmp_path: Path) -> None:
    with pytest.raises(NodeError, match="no data dir at"):
        DataDir(tmp_path / "missing").make_instances()


def test_an_existing_shared_directory_keeps_its_mode(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    (shared / "someone-elses-file").write_text("x")
    shared.chmod(0o755)

    DataDir(shared).create()

    assert stat.S_IMODE(shared.stat().st_mode) == 0o755


def test_an_existing_empty_directory_is_made_private(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    fresh.chmod(0o755)  # what `mkdir -p` in `make run` leaves

    DataDir(fresh).create()

    assert stat.S_IMODE(fresh.stat().st_mode) == 0o700
