"""The node's data directory: where its keys, mesh credentials, generation and known members live.

Layout (the directory itself is mode 0700, every file 0600):

    node.seed      this node's ed25519 seed (written by identity's SigningKey.save)
    root.seed      the mesh root's seed, only on the node that created the mesh
    mesh.cbor      {"v": 1, "mesh": root public key, "chain": this node's chain, "keyring": keyring}
    generation     decimal integer, incremented and made durable on every start before it is used
    members.cbor   {"v": 1, "addresses": [...]}: last known members, contacted again on restart
    config.key     the mesh config key (32 raw bytes) that seals config secrets; the same on every member
    invites.cbor   {"v": 1, "redeemed": [[nonce, joiner key, keep until], ...]}: the invites this node
                   redeemed (see node/invites.py), kept until they expire
    kv.db          the key-value replica in SQLite (WAL mode: with kv.db-wal and kv.db-shm beside it)
    streams.db     the event-stream log in SQLite (WAL mode, like kv.db)
    node.sock      the local API (a unix socket)
    link.sock      the SDK's call link to this node (a unix socket, see node/socketlink.py)
    instances/     the sockets the SDK's instances serve on, `<token>.sock` (gRPC) and `<token>.link.sock`
                   (call link); mode 0700, so only the node's user reaches an instance

Files are replaced atomically (write a temporary file, fsync, rename, fsync the directory), so a crash
never leaves half a keyring behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import cbor2

from ...identity.redemption import Redemption
from .errors import AlreadyRunning, InvalidArgument, NodeError

__all__ = ["DEFAULT_DATA_DIR", "ENV_DATA_DIR", "INSTANCE_TOKEN_BYTES", "MAX_SOCKET_PATH", "STORES", "DataDir",
           "MeshFile"]

ENV_DATA_DIR = "MICRO_DATA_DIR"
DEFAULT_DATA_DIR = "~/.micro"

# sun_path is 108 bytes on Linux, including the terminating NUL.
MAX_SOCKET_PATH = 107
INSTANCE_TOKEN_BYTES = 6
"""An instance's sockets are named by this many random bytes in hex: unique among the instances of one
node, and short, as the sockets' paths must fit in sun_path."""
# Bounds on what we accept back from our own files: they are small, and a larger one is not ours.
_MAX_FILE = 1 << 20
STORES = ("kv", "streams")
"""The data dir's SQLite stores, by name (the file is `<name>.db`)."""


@dataclass(frozen=True)
class MeshFile:
    """The contents of mesh.cbor: which mesh this node belongs to and its credentials in it."""

    mesh: bytes
    chain: bytes
    keyring: bytes


class DataDir:
    """Paths and durable reads and writes of one node's data directory."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser().absolute()
        self._lock_fd: int | None = None

    @classmethod
    def resolve(cls, option: str | os.PathLike[str] | None = None) -> DataDir:
        """The data dir from --data-dir, else MICRO_DATA_DIR, else ~/.micro."""
        chosen = option if option else os.environ.get(ENV_DATA_DIR) or DEFAULT_DATA_DIR
        return cls(chosen)

    def __str__(self) -> str:
        return str(self.path)

    @property
    def node_seed(self) -> Path:
        return self.path / "node.seed"

    @property
    def root_seed(self) -> Path:
        return self.path / "root.seed"

    @property
    def mesh_file(self) -> Path:
        return self.path / "mesh.cbor"

    @property
    def generation_file(self) -> Path:
        return self.path / "generation"

    @property
    def members_file(self) -> Path:
        return self.path / "members.cbor"

    @property
    def config_key_file(self) -> Path:
        return self.path / "config.key"

    @property
    def invites_file(self) -> Path:
        return self.path / "invites.cbor"

    @property
    def admin_creds(self) -> Path:
        """The mesh's `admin` account key, made with the mesh (0600; the CLI on this machine uses it)."""
        return self.path / "admin.creds"

    @property
    def kv_db(self) -> Path:
        return self.store("kv")

    @property
    def streams_db(self) -> Path:
        return self.store("streams")

    def store(self, name: str) -> Path:
        """The file of one of `STORES`."""
        return self.path / f"{name}.db"

    @property
    def held_mesh(self) -> bool:
        """Whether this data dir has been a node of a mesh (it holds the mesh's keys and certificate)."""
        return self.mesh_file.exists()

    @property
    def socket(self) -> Path:
        return self.path / "node.sock"

    @property
    def link_socket(self) -> Path:
        return self.path / "link.sock"

    @property
    def instances(self) -> Path:
        """Where the SDK's instances serve (see `instance_sockets`)."""
        return self.path / "instances"

    def instance_sockets(self, token: str) -> tuple[Path, Path]:
        """The unix sockets of the instance named `token` (hex): its gRPC server and its call link."""
        return self.instances / f"{token}.sock", self.instances / f"{token}.link.sock"

    def check_socket_paths(self) -> None:
        """Refuse a data dir whose longest unix socket path (an instance's call link) would not fit in
        sun_path: the node refuses it at start, an instance before it listens."""
        longest = len(os.fsencode(self.instance_sockets("0" * 2 * INSTANCE_TOKEN_BYTES)[1]))
        if longest > MAX_SOCKET_PATH:
            room = MAX_SOCKET_PATH - (longest - len(os.fsencode(self.path)))
            raise InvalidArgument(
                f"data dir path {self.path} is too long for the unix sockets in it ({len(os.fsencode(self.path))} "
                f"bytes, at most {room}); choose a shorter --data-dir or MICRO_DATA_DIR"
            )

    def make_instances(self) -> Path:
        """Create `instances/` (0700) if missing and return it, refusing one that is not this user's own
        directory: an instance's sockets are reached through the directory, so its mode is their guard.
        The node and its services run as one user (`micro run` starts them as the node's user)."""
        try:
            self.instances.mkdir(mode=0o700, exist_ok=True)
            found = self.instances.lstat()
        except FileNotFoundError:
            raise NodeError(f"no data dir at {self.path}: start its node first (`micro node start`)",
                            "FAILED_PRECONDITION") from None
        except OSError as exc:
            raise NodeError(f"cannot create {self.instances}: {exc.strerror}", "FAILED_PRECONDITION") from None
        if not stat.S_ISDIR(found.st_mode):
            raise NodeError(f"{self.instances} is not a directory", "FAILED_PRECONDITION")
        if found.st_uid != os.getuid():
            raise NodeError(f"{self.instances} belongs to user {found.st_uid}, not to this process's user "
                            f"{os.getuid()}: run the node and its services as one user", "FAILED_PRECONDITION")
        os.chmod(self.instances, 0o700)
        return self.instances

    def create(self) -> None:
        """Create the directory (0700), or tighten an existing one to 0700 when it is clearly ours.

        "Ours" means owned by this user and empty or already holding a node key: a mistaken
        `--data-dir /tmp` or `--data-dir ~` must not change the mode of a shared directory. The files
        inside are 0600 either way.
        """
        try:
            existed = self.path.is_dir()
            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not existed or self._owned_by_us():
                os.chmod(self.path, 0o700)
        except OSError as exc:
            raise NodeError(f"cannot create data dir {self.path}: {exc.strerror}", "FAILED_PRECONDITION") from exc
        self.check_socket_paths()

    def _owned_by_us(self) -> bool:
        if self.path.stat().st_uid != os.getuid():
            return False
        return self.node_seed.exists() or not any(self.path.iterdir())

    def lock(self) -> None:
        """Hold an exclusive lock on the directory for the life of the process: one node per data dir."""
        fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise AlreadyRunning(f"a node is already running at {self.path}") from None
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def write_atomic(self, path: Path, data: bytes) -> None:
        """Replace `path` with `data` (mode 0600) so readers see the old or the new file, never a mix."""
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        dir_fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def _read(self, path: Path) -> bytes | None:
        try:
            with open(path, "rb") as f:
                data = f.read(_MAX_FILE + 1)
        except FileNotFoundError:
            return None
        if len(data) > _MAX_FILE:
            raise NodeError(f"{path} is larger than any file the node writes", "FAILED_PRECONDITION")
        return data

    def _read_cbor_map(self, path: Path) -> dict[object, object] | None:
        data = self._read(path)
        if data is None:
            return None
        try:
            value = cbor2.loads(data)
        except (cbor2.CBORDecodeError, ValueError, TypeError, EOFError) as exc:
            raise NodeError(f"{path} is corrupt: {exc}", "FAILED_PRECONDITION") from exc
        if not isinstance(value, dict) or value.get("v") != 1:
            raise NodeError(f"{path} is not a version 1 file of this node", "FAILED_PRECONDITION")
        return value

    def next_generation(self) -> int:
        """Increment the stored generation and make it durable before anyone uses it."""
        data = self._read(self.generation_file)
        try:
            current = int(data.decode("ascii").strip()) if data else 0
        except (UnicodeDecodeError, ValueError) as exc:
            raise NodeError(f"{self.generation_file} is corrupt", "FAILED_PRECONDITION") from exc
        generation = current + 1
        self.write_atomic(self.generation_file, f"{generation}\n".encode("ascii"))
        return generation

    def load_mesh(self) -> MeshFile | None:
        value = self._read_cbor_map(self.mesh_file)
        if value is None:
            return None
        mesh, chain, keyring = value.get("mesh"), value.get("chain"), value.get("keyring")
        if not (isinstance(mesh, bytes) and isinstance(chain, bytes) and isinstance(keyring, bytes)):
            raise NodeError(f"{self.mesh_file} is corrupt: missing mesh, chain or keyring", "FAILED_PRECONDITION")
        return MeshFile(mesh=mesh, chain=chain, keyring=keyring)

    def save_mesh(self, mesh: MeshFile) -> None:
        body = {"v": 1, "mesh": mesh.mesh, "chain": mesh.chain, "keyring": mesh.keyring}
        self.write_atomic(self.mesh_file, cbor2.dumps(body))

    def load_config_key(self, size: int) -> bytes | None:
        """The mesh config key, or None when this data dir has none."""
        data = self._read(self.config_key_file)
        if data is not None and len(data) != size:
            raise NodeError(f"{self.config_key_file} is corrupt: not a {size}-byte key", "FAILED_PRECONDITION")
        return data

    def save_config_key(self, key: bytes) -> None:
        self.write_atomic(self.config_key_file, key)

    def remove_config_key(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.config_key_file.unlink()

    def load_members(self) -> list[str]:
        value = self._read_cbor_map(self.members_file)
        if value is None:
            return []
        addresses = value.get("addresses")
        if not isinstance(addresses, list):
            return []
        return [a for a in addresses if isinstance(a, str)]

    def save_members(self, addresses: list[str]) -> None:
        self.write_atomic(self.members_file, cbor2.dumps({"v": 1, "addresses": sorted(set(addresses))}))

    def forget_members(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.members_file.unlink()

    def load_redemptions(self) -> dict[bytes, Redemption]:
        """The invite redemptions this node decided, by nonce ({} when none)."""
        value = self._read_cbor_map(self.invites_file)
        rows = [] if value is None else value.get("redeemed")
        if not isinstance(rows, list) or not all(
            isinstance(row, list) and len(row) == 3 and isinstance(row[0], bytes) and isinstance(row[1], bytes)
            and type(row[2]) is int for row in rows
        ):
            # Forgetting them would re-open the invites they record.
            raise NodeError(f"{self.invites_file} is corrupt: not a list of redemptions", "FAILED_PRECONDITION")
        return {nonce: Redemption(joiner, keep_until) for nonce, joiner, keep_until in rows}

    def save_redemptions(self, records: dict[bytes, Redemption]) -> None:
        rows = [[nonce, r.joiner, r.keep_until] for nonce, r in records.items()]
        self.write_atomic(self.invites_file, cbor2.dumps({"v": 1, "redeemed": rows}))

    def remove_root_seed(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.root_seed.unlink()
