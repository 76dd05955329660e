"""The node agent: identity on disk, sockets, the local API and the peer service around one mesh core.

`run(options)` is what `micro node start` calls. Start-up order matters and is:

1. lock the data dir (one node per directory), clear a stale socket, and check the stores
   (`storage.check`: a data dir that held a mesh never starts with a lost or damaged store);
2. bind UDP, then TCP on the same port number;
3. open the KV store and the event log (a corrupt file stops the node here), before the mesh file
   exists, so that a first start cut short never leaves a mesh without its stores;
4. load or create the node key and mesh credentials (no mesh yet: create one, this node holds its root);
5. take the next generation (made durable before use, so a restart always supersedes the last life);
6. build the core with the stored replica, learn this node's stream heads from the members' copies,
   then bind the local API socket (mode 0600);
7. rejoin the members remembered in members.cbor, then `--join`.

SIGTERM and SIGINT make the node leave gracefully: the leave rumour is sent for about one gossip round,
members.cbor is written, and the process exits 0. `micro node leave` does the same and also forgets the
remembered members, so a later start does not rejoin a mesh the user chose to leave.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import random
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc

from ..identity.admission import admit
from ..identity.authstate import ADMIN
from ..identity.claims import Certificate, Chain, Invite
from ..identity.errors import IdentityError, Malformed
from ..identity.keyring import Keyring
from ..identity.keys import KeyKind, PublicKey, SigningKey, seal_to
from ..identity.records import AUTH_DB
from ..mesh import OwnedStateChanged
from ..mesh.config import MeshConfig
from ..mesh.events import Event, KvChanged
from ..mesh.messages import KvEntry
from .api.datadir import DataDir, MeshFile
from .api.errors import (
    AlreadyRunning,
    InvalidArgument,
    NodeError,
    PermissionDenied,
    Unavailable,
)
from .api.proto import node_pb2, node_pb2_grpc
from .api.socketlink import LinkServer
from .auth.revocation import NodeRevocations
from .auth.service import Auth
from .banner import announce
from .capabilities import Capabilities
from .credentials import NodeCredentials, NodeVerifier
from .invites import Invites
from .join import open_join_reply, request_join
from .kv.config_tree import CONFIG_KEY_SIZE, ConfigService, new_config_key
from .kv.service import KvService
from .kv.store import KvStore
from .local_api import LocalApi
from .log import Logger
from .peer_api import PeerApi
from .processes.supervisor import Supervisor
from .rpc import status_of
from .runtime import Runtime
from .storage.check import check_stores
from .streams.eventlog import EventLog
from .transport import NetTransport, format_address, parse_address

__all__ = ["Node", "NodeOptions", "run"]

PROFILES: dict[str, Callable[[], MeshConfig]] = {
    "lan": MeshConfig.lan,
    "wan": MeshConfig.wan,
    "local": MeshConfig.local,
}
NODE_ROLES = ("node", "issuer")
DEFAULT_INVITE_TTL = 3600
# Node certificates carry no renewal yet, so they are long-lived; a sub-issuer never outlives its issuer.
CERT_TTL = 365 * 86400
# How many member addresses a Join reply hands out, and how many a joiner contacts.
_JOIN_MEMBERS = 16
_MEMBERS_SAVE_INTERVAL = 1.0
_ACTIVE_STATES = ("alive", "suspect")

@dataclass
class NodeOptions:
    """What `micro node start` was asked for."""

    data_dir: DataDir
    bind: str = "0.0.0.0:7946"
    advertise: str | None = None
    join: list[str] = field(default_factory=list)
    token: str | None = None
    mdns: bool = True
    profile: str = "lan"
    banner: bool = False
    log_level: str = "info"
    # Added to the wall clock that stamps KV writes (tests skew nodes with it).
    clock_offset: float = 0.0
    # The largest KV value accepted, in bytes (None: the profile's, 1 MiB).
    kv_max_value: int | None = None
    # HOST:PORT of the HTTP gateway this node serves in-process (None: no gateway).
    gateway: str | None = None
    # Web origins whose pages may read the gateway's answers (CORS; none: no page of another origin).
    cors_origins: tuple[str, ...] = ()
    # Stores (kv, streams) that may start although they lost data (see storage/check.py).
    accept_store_loss: frozenset[str] = frozenset()


def _primary_address() -> str:
    """The address of the interface that routes to the outside world (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            # TEST-NET-1: connecting a UDP socket only picks a route, it sends nothing.
            probe.connect(("192.0.2.1", 9))
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"


_PORT_ATTEMPTS = 20


def _check_tcp_port(host: str, port: int) -> None:
    """Refuse a TCP port in use with our own message (grpc would also log a multi-line C++ error)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # The same option grpc sets, so a port in TIME_WAIT is not mistaken for one in use.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise InvalidArgument(
                f"cannot bind TCP {format_address(host, port)}: {exc.strerror or exc}; choose another --bind port"
            ) from None


def _short(mesh_id: str) -> str:
    return mesh_id[:12] + "…"


class Node:
    """One running node: owns its data dir, sockets, servers, core and timers."""

    def __init__(self, options: NodeOptions, logger: Logger) -> None:
        if options.profile not in PROFILES:
            raise InvalidArgument(f"unknown profile {options.profile!r}; choose lan, wan or local")
        # Checked before anything touches the disk, so a typo never creates a mesh.
        self._bind = parse_address(options.bind, "--bind", numeric=True)
        self._advertise = parse_address(options.advertise, "--advertise", numeric=True) if options.advertise else None
        self._gateway = parse_address(options.gateway, "--gateway") if options.gateway else None
        self.gateway_url = ""
        self.capabilities: Capabilities | None = None
        for address in options.join:
            parse_address(address, "--join")
        self.options = options
        self.data_dir = options.data_dir
        self.log = logger
        self.config = PROFILES[options.profile]()
        if options.kv_max_value is not None:
            if options.kv_max_value <= 0:
                raise InvalidArgument("the KV value limit must be a positive number of bytes")
            self.config = dataclasses.replace(self.config, kv_max_value=options.kv_max_value)
        self.started_at = time.monotonic()
        self.address = ""
        self.generation = 0
        self.transport = NetTransport(logger)
        self.runtime: Runtime | None = None
        self.kv: KvService | None = None
        self.eventlog: EventLog | None = None
        self._kv_store: KvStore | None = None
        self.config_api: ConfigService | None = None
        self.supervisor = Supervisor(options.data_dir, logger)
        self._config_key: bytes | None = None
        self._peer_server: grpc.aio.Server | None = None
        self._local_server: grpc.aio.Server | None = None
        self._link_server: LinkServer | None = None
        self._stopping = asyncio.Event()
        self._forget_members = False
        self._members_task: asyncio.Task[None] | None = None
        self._saved_members: list[str] = []
        self._members_dirty = False
        self.invites: Invites | None = None
        self.auth: Auth | None = None
        self._created_mesh = False
        self.revocations: NodeRevocations | None = None
        self._join_lock = asyncio.Lock()
        self.node_key: SigningKey
        self.root_key: SigningKey | None = None
        self.mesh_root: PublicKey
        self.keyring: Keyring
        self.creds: NodeCredentials

    # ---- start-up -------------------------------------------------------------------------------

    async def start(self) -> None:
        dd = self.data_dir
        dd.create()
        dd.lock()
        self._clear_stale_socket()
        for accepted in check_stores(dd, self.options.accept_store_loss):
            self.log.warning("store.loss_accepted", detail=accepted)

        # Ports first: a port in use is the likeliest failure, and it should leave no trace on disk.
        host, port = self._bind
        port = await self._open_udp_with_tcp_twin(host, port)
        self._peer_server = grpc.aio.server(
            options=[
                # grpc enables SO_REUSEPORT by default, which would let two nodes share a port silently.
                ("grpc.so_reuseport", 0),
                ("grpc.max_receive_message_length", self.config.max_reliable + 4096),
            ]
        )
        node_pb2_grpc.add_PeerServicer_to_server(PeerApi(self), self._peer_server)
        try:
            self._peer_server.add_insecure_port(format_address(host, port))
        except RuntimeError:
            raise InvalidArgument(
                f"cannot bind TCP {format_address(host, port)} (address in use?); choose another --bind port"
            ) from None
        # The stores exist before the mesh file: a first start cut short in between must not leave a data dir
        # that has "held a mesh" without them (`storage.check` would refuse it).
        self._kv_store = await KvStore.open(dd.kv_db, self.log)
        self.eventlog = await EventLog.open(dd.streams_db, self.log)
        self._load_identity()
        self.invites = Invites(dd, self.node_key.public, lambda: self.mesh_root, lambda: self.keyring,
                               self.transport, lambda: self.runtime.members() if self.runtime is not None else [])
        self.generation = dd.next_generation()
        await self._peer_server.start()

        if self._advertise is not None:
            adv_host, adv_port = self._advertise
            self.address = format_address(adv_host, adv_port or port)
        elif host in ("0.0.0.0", "::", ""):
            self.address = format_address(_primary_address(), port)
        else:
            self.address = format_address(host, port)
        self.transport.source = self.address

        self.runtime = Runtime(self.transport, self.log, self._on_members_changed, self._on_kv_event, self._on_owned)
        self.kv = KvService(self.runtime, self._kv_store)
        self.config_api = ConfigService(self.kv, self._config_key)
        self.capabilities = Capabilities(self.runtime, self.transport, self.node_key.public.id, self.address,
                                 lambda: self.keyring, self.log, self.eventlog, self.kv, dd.instances)
        remembered = [a for a in dd.load_members() if a != self.address]
        # Before any publish: the stream log may have lost events its replicas hold.
        self.capabilities.streams.learn_heads(wait_for_peers=bool(remembered or self.options.join))
        await self._build_core()
        assert self.auth is not None
        # The mesh's creator makes the admin and the default rules with the mesh; again only if it lost its
        # store (accepted with --accept-store-loss) and has no member to copy them back from. Never else:
        # the records are the admins' to change, and a restart must not re-sign the defaults over theirs.
        if self.root_key is not None and (self._created_mesh or not (remembered or self.auth.values())):
            await self.auth.bootstrap(self.root_key, dd.admin_creds)
        await self._start_local_api()
        if self._gateway is not None:
            self.gateway_url = await self.capabilities.start_gateway(*self._gateway, lambda: self.auth,
                                                                    self.options.cors_origins)
        self._members_task = asyncio.get_running_loop().create_task(self._members_loop())

        if remembered:
            self.log.info("node.rejoin", addresses=remembered)
            self.runtime.join(remembered)
        if self.options.join:
            await self._join_at_start()

    async def _open_udp_with_tcp_twin(self, host: str, requested: int) -> int:
        """Bind UDP on a port whose TCP twin is free too. With port 0 the kernel picks the UDP port, and
        its TCP twin may be some outgoing connection's ephemeral port: then try another."""
        for _ in range(_PORT_ATTEMPTS - 1):
            port = await self.transport.open_udp(host, requested, self._on_datagram)
            try:
                _check_tcp_port(host, port)
                return port
            except InvalidArgument:
                if requested:
                    raise
                self.transport.close_udp()
        port = await self.transport.open_udp(host, requested, self._on_datagram)
        _check_tcp_port(host, port)
        return port

    def _clear_stale_socket(self) -> None:
        path = self.data_dir.socket
        if not path.exists():
            return
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.settimeout(1.0)
            probe.connect(str(path))
        except OSError:
            # Nobody listens: a node that died without cleaning up.
            path.unlink(missing_ok=True)
            return
        finally:
            probe.close()
        raise AlreadyRunning(f"a node is already running at {self.data_dir}")

    def _load_identity(self) -> None:
        dd = self.data_dir
        if dd.node_seed.exists():
            self.node_key = SigningKey.load(dd.node_seed, KeyKind.NODE)
        else:
            self.node_key = SigningKey.generate(KeyKind.NODE)
            self.node_key.save(dd.node_seed)
        mesh = dd.load_mesh()
        if mesh is None:
            mesh = self._create_mesh()
            self._created_mesh = True
        self.root_key = SigningKey.load(dd.root_seed, KeyKind.MESH) if dd.root_seed.exists() else None
        self._adopt(mesh)
        if self.root_key is not None and self.root_key.public != self.mesh_root:
            # A root seed of some other mesh (left over from a replaced mesh) must never sign for this one.
            self.root_key = None
        self._check_own_chain()
        self._config_key = dd.load_config_key(CONFIG_KEY_SIZE)
        if self._config_key is None and self.root_key is not None:
            # The mesh's creator makes the key: with the mesh, or once for a data dir older than config.
            self._config_key = new_config_key()
            dd.save_config_key(self._config_key)

    def _create_mesh(self) -> MeshFile:
        root = SigningKey.generate(KeyKind.MESH)
        root.save(self.data_dir.root_seed)
        cert = Certificate.issue(root, self.node_key.public, root.public, NODE_ROLES, int(time.time()), CERT_TTL)
        mesh = MeshFile(mesh=root.public.raw, chain=Chain((cert,)).encode(), keyring=Keyring.generate().to_bytes())
        self.data_dir.save_mesh(mesh)
        self.log.info("mesh.created", mesh=root.public.id, node=self.node_key.public.id)
        return mesh

    def _adopt(self, mesh: MeshFile) -> None:
        try:
            self.mesh_root = PublicKey(KeyKind.MESH, mesh.mesh)
            self.keyring = Keyring.from_bytes(mesh.keyring)
        except IdentityError as exc:
            raise NodeError(f"{self.data_dir.mesh_file} is corrupt: {exc}", "FAILED_PRECONDITION") from exc
        self.creds = NodeCredentials(self.node_key, mesh.chain)

    def _check_own_chain(self) -> None:
        try:
            leaf = Chain.decode(self.creds.chain).verify(self.mesh_root, int(time.time()))
            if leaf.subject != self.node_key.public:
                raise NodeError("the certificate in mesh.cbor is for another node key", "FAILED_PRECONDITION")
        except IdentityError as exc:
            # Other members will refuse us, but the node still runs so it can join with a new invite.
            self.log.error("node.chain_invalid", error=str(exc))

    async def _build_core(self) -> None:
        assert self.runtime is not None and self.kv is not None
        if self.revocations is not None:  # the last core's rotation, of a keyring this node no longer uses
            self.revocations.close()
        kv_state = await self.kv.store.load()
        seed = int.from_bytes(os.urandom(8), "big")
        self.runtime.build(
            config=self.config,
            creds=self.creds,
            verifier=NodeVerifier(self.mesh_root, self._accepts, self._node_revoked),
            keyring=self.keyring,
            address=self.address,
            generation=self.generation,
            rng=random.Random(seed),
            clock_offset=self.options.clock_offset,
            kv_state=kv_state,
        )
        # The records in force are those of this mesh's replica: a new core (a join) starts them afresh.
        self.revocations = NodeRevocations(self.node_key, self.keyring, self._save_keyring, self.runtime,
                                           self.config.keyring_rotation_delay, self.log)
        self.auth = Auth(self.mesh_root, self.node_key, lambda: self.creds.chain, self.kv, self.log,
                         self.revocations.apply)
        self.revocations.apply(self.auth.state)
        if self.capabilities is not None:
            self.capabilities.rebuilt()

    def _node_revoked(self, node_id: bytes) -> bool:
        """The verifier's check of a member's key against the node revocations in force."""
        return self.auth is not None and self.auth.node_revoked(node_id)

    def _save_keyring(self) -> None:
        """Keep the keyring as a rotation left it (see `auth/revocation.py`), so a restart uses it."""
        self.data_dir.save_mesh(MeshFile(mesh=self.mesh_root.raw, chain=self.creds.chain,
                                         keyring=self.keyring.to_bytes()))

    def _accepts(self, entry: KvEntry, held: KvEntry | None) -> bool:
        """The core's check of a register from elsewhere (auth records, revoked writers): `Auth.accepts`."""
        if self.auth is None:
            return entry.db != AUTH_DB
        return self.auth.accepts(entry, held)

    async def local_call(self, payload: bytes, time_left: float | None) -> bytes:
        """One routed call of the SDK's call link (a serialized `CallRequest`, to its `CallReply`)."""
        if self.capabilities is None or self.auth is None:
            raise Unavailable("the node is starting")
        request = node_pb2.CallRequest.FromString(payload)
        # The link is the socket owner's: its calls are the admin's unless an entry point says for whom.
        self.auth.admit_call(request, self.auth.requester(request.credential) if request.HasField("credential")
                             else ADMIN)
        reply = await self.capabilities.router.call(request, time_left)
        return reply.SerializeToString()

    async def _start_local_api(self) -> None:
        path = self.data_dir.socket
        # A put carries a whole value; leave room for the rest of the message.
        limit = max(4 << 20, self.config.kv_max_value + (64 << 10))
        link = LinkServer(self.data_dir.link_socket, self.local_call, lambda exc: status_of(self.log, exc),
                          limit + (64 << 10), lambda error: self.log.warning("node.link_dropped", error=error))
        self.data_dir.make_instances()
        try:
            await link.start()
        except OSError as exc:
            raise NodeError(f"cannot listen on {link.path}: {exc.strerror}", "FAILED_PRECONDITION") from None
        self._link_server = link
        self._local_server = grpc.aio.server(options=[("grpc.max_receive_message_length", limit)])
        node_pb2_grpc.add_NodeServicer_to_server(LocalApi(self), self._local_server)
        # The socket is created with the process umask; tighten it before announcing that we run.
        old_umask = os.umask(0o177)
        try:
            self._local_server.add_insecure_port(f"unix:{path}")
            await self._local_server.start()
        except RuntimeError:
            raise NodeError(f"cannot listen on {path}", "FAILED_PRECONDITION") from None
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o600)

    async def _join_at_start(self) -> None:
        if self.options.token:
            last: NodeError | None = None
            for address in self.options.join:
                try:
                    await self.join_mesh(address, self.options.token)
                    return
                except NodeError as exc:
                    last = exc
                    self.log.warning("node.join_failed", address=address, error=exc.message)
            assert last is not None
            raise last
        assert self.runtime is not None
        if self.root_key is not None and not self.data_dir.load_members():
            raise InvalidArgument("--join needs --token here: this node is alone in the mesh it created; "
                                  "run `micro node invite` on a member of the mesh to join and pass the token")
        self.runtime.join(list(self.options.join))

    # ---- membership file ------------------------------------------------------------------------

    def _on_kv_event(self, event: Event) -> None:
        if self.kv is not None:
            self.kv.on_event(event)
        if self.auth is not None and isinstance(event, KvChanged):
            self.auth.changed(event.entry)

    def _on_owned(self, event: OwnedStateChanged) -> None:
        if self.capabilities is not None:
            self.capabilities.on_owned(event)

    def _on_members_changed(self) -> None:
        # Written by the periodic task; events arrive in bursts and one write covers them all.
        self._members_dirty = True

    def _active_addresses(self) -> list[str]:
        assert self.runtime is not None
        return sorted(
            m["address"] for m in self.runtime.members() if not m["self"] and m["state"] in _ACTIVE_STATES
        )

    def _save_members(self) -> None:
        addresses = self._active_addresses()
        # Everyone unreachable is no reason to forget them: keep the last non-empty list to rejoin.
        if addresses and addresses != self._saved_members:
            self.data_dir.save_members(addresses)
            self._saved_members = addresses

    async def _members_loop(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), _MEMBERS_SAVE_INTERVAL)
            if self._members_dirty:
                self._members_dirty = False
                try:
                    self._save_members()
                except OSError as exc:
                    self.log.error("members.save_failed", error=str(exc))

    # ---- stop -----------------------------------------------------------------------------------

    def request_stop(self, forget_members: bool = False) -> None:
        self._forget_members = self._forget_members or forget_members
        self._stopping.set()

    async def wait_stopped(self) -> None:
        await self._stopping.wait()

    async def shutdown(self) -> None:
        """Leave gracefully, persist what a restart needs, close everything; bounded in time."""
        # First, while the local API still answers the services' deregistrations.
        await self.supervisor.close()
        if self.capabilities is not None:
            await self.capabilities.close()
        if self.revocations is not None:
            self.revocations.close()
        if self.runtime is not None and self.runtime.running:
            try:
                self._save_members()
            except OSError as exc:
                self.log.error("members.save_failed", error=str(exc))
            self.runtime.leave()
            # One gossip round or so carries the leave rumour to the fan-out; peers spread it on.
            await asyncio.sleep(min(2.0, max(0.3, 4 * self.config.gossip_interval)))
            self.runtime.close()
        if self._forget_members:
            self.data_dir.forget_members()
        if self._members_task is not None:
            self._members_task.cancel()
        if self._link_server is not None:
            await self._link_server.close(grace=0.5)
        for server in (self._local_server, self._peer_server):
            if server is not None:
                await server.stop(grace=0.5)
        if self.kv is not None:
            # After the servers: writes in flight at the stop still commit.
            await self.kv.close()
        elif self._kv_store is not None:  # the start failed before the KV service was built
            await self._kv_store.close()
        if self.eventlog is not None:
            await self.eventlog.close()
        await self.transport.close()
        if self._local_server is not None:
            # Only the node that bound the socket removes it; a refused second start must not.
            self.data_dir.socket.unlink(missing_ok=True)
            self.log.info("node.stopped", address=self.address)
        self.data_dir.unlock()

    # ---- local API ------------------------------------------------------------------------------

    def status(self) -> node_pb2.StatusReply:
        assert self.runtime is not None
        counts: dict[str, int] = {"alive": 0, "suspect": 0, "dead": 0, "left": 0}
        for member in self.runtime.members():
            counts[member["state"]] = counts.get(member["state"], 0) + 1
        return node_pb2.StatusReply(
            id=self.node_key.public.id,
            mesh_id=self.mesh_root.id,
            address=self.address,
            generation=self.generation,
            uptime_s=time.monotonic() - self.started_at,
            members=counts,
            counters={**self.runtime.counters(), **(self.kv.counters() if self.kv is not None else {}),
                      **(self.capabilities.counters() if self.capabilities is not None else {}),
                      **(self.auth.counters() if self.auth is not None else {}),
                      **(self.revocations.counters() if self.revocations is not None else {})},
            profile=self.options.profile,
            data_dir=str(self.data_dir),
            transport_failures=self.transport.failures,
        )

    def members(self) -> node_pb2.MembersReply:
        assert self.runtime is not None
        return node_pb2.MembersReply(members=[node_pb2.Member(**m) for m in self.runtime.members()])

    def invite(self, ttl_s: float) -> node_pb2.InviteReply:
        ttl = DEFAULT_INVITE_TTL if ttl_s <= 0 else max(1, round(ttl_s))
        now = int(time.time())
        if self.root_key is not None:
            issuer, chain = self.root_key, Chain()
        else:
            issuer, chain = self.node_key, Chain.decode(self.creds.chain)
            chain.verify_issuer(self.mesh_root, now)
        # Redeemed here whichever key signs it: this node decides which joiner it admits (invites.py).
        token = Invite.issue(issuer, chain, self.mesh_root, now, ttl, roles=NODE_ROLES,
                             redeemer=self.node_key.public)
        self.log.info("invite.issued", expires_at=token.expires_at)
        return node_pb2.InviteReply(token=token.to_token(), expires_at=float(token.expires_at))

    def leave(self) -> None:
        self.log.info("node.leave_requested")
        self.request_stop(forget_members=True)

    async def join_mesh(self, address: str, token: str) -> node_pb2.JoinMeshReply:
        parse_address(address, "join address")
        if address == self.address:
            raise InvalidArgument(f"{address} is this node; join through another member of the mesh")
        try:
            invite = Invite.from_token(token)
        except Malformed as exc:
            raise InvalidArgument(f"invite token is malformed ({exc})") from None
        async with self._join_lock:
            if invite.mesh != self.mesh_root:
                others = len(self._active_addresses())
                if others:
                    raise NodeError(
                        f"already a member of mesh {_short(self.mesh_root.id)} with {others + 1} members; "
                        "run `micro node leave` first",
                        "FAILED_PRECONDITION",
                    )
            reply = await request_join(address, token, self.node_key.public, self.address)
            if self._stopping.is_set():
                # A leave or signal arrived while we waited; do not start a new life on the way out.
                raise Unavailable("the node is stopping; the join was abandoned")
            mesh, keyring, config_key = open_join_reply(address, invite, reply, self.node_key)
            assert self.runtime is not None and self.kv is not None and self.config_api is not None
            if mesh.mesh != self.mesh_root.raw:
                self.log.info("mesh.replaced", old=self.mesh_root.id, new=invite.mesh.id)
                self.data_dir.remove_root_seed()
                self.data_dir.admin_creds.unlink(missing_ok=True)
                self.root_key = None
                # The old mesh's addresses, registers and config key are of no use in the new one (its
                # registers are signed under the old mesh's chains). The old core stops first, and
                # clearing drops what it installed but had not saved, so none of its registers is saved
                # after the store is cleared.
                self.data_dir.forget_members()
                self._saved_members = []
                self.runtime.close()
                await self.kv.clear()
                self.data_dir.remove_config_key()
                self._config_key = None
            if config_key is not None:
                self.data_dir.save_config_key(config_key)
                self._config_key = config_key
            self.config_api.key = self._config_key
            self.data_dir.save_mesh(mesh)
            self._adopt(mesh)
            self.keyring = keyring
            # A new life in the (possibly new) mesh: a fresh generation, durable before use.
            self.generation = self.data_dir.next_generation()
            await self._build_core()
            assert self.auth is not None
            self.auth.preload(list(reply.auth_records))
            contacts = [address] + [a for a in reply.members if a != self.address and a != address]
            contacts = contacts[:_JOIN_MEMBERS]
            self.runtime.join(contacts)
            self.log.info("mesh.joined", mesh=self.mesh_root.id, through=address, contacts=len(contacts))
            return node_pb2.JoinMeshReply(mesh_id=self.mesh_root.id, contacted=len(contacts))

    # ---- peer service ---------------------------------------------------------------------------

    async def admit(self, request: node_pb2.JoinRequest) -> node_pb2.JoinReply:
        """Verify a joiner's invite and certify it (`identity.admission`) once the invite's redeemer agreed
        that the invite admits it (`invites.py`); raises to refuse."""
        try:
            invite = Invite.from_token(request.token)
        except Malformed as exc:
            raise InvalidArgument(f"invite token is malformed ({exc})") from None
        joiner = PublicKey(KeyKind.NODE, request.public_key)
        if self._node_revoked(joiner.raw):
            raise PermissionDenied(f"node {joiner.id} has been revoked in this mesh")
        now = int(time.time())
        if self.root_key is not None:
            issuer, base = self.root_key, Chain()
        else:
            issuer, base = self.node_key, Chain.decode(self.creds.chain)
        granted = admit(invite, self.mesh_root, now, base, self.root_key is not None, CERT_TTL)
        cert = Certificate.issue(issuer, joiner, self.mesh_root, granted.roles, now, granted.ttl)
        chain = base.extend(cert).encode()

        assert self.runtime is not None
        members = [self.address] + [
            m["address"] for m in self.runtime.members()
            if m["state"] == "alive" and not m["self"] and m["address"] != request.address
        ]
        # Built before waiting on the redeemer, so the answer is all of the mesh checked above.
        reply = node_pb2.JoinReply(
            chain=chain,
            sealed_keyring=seal_to(joiner, self.keyring.to_bytes()),
            mesh=self.mesh_root.raw,
            members=members[:_JOIN_MEMBERS],
            sealed_config_key=seal_to(joiner, self._config_key) if self._config_key is not None else b"",
            auth_records=self.auth.values() if self.auth is not None else [],
        )
        assert self.invites is not None
        await self.invites.redeem(invite, joiner)
        self.log.info("member.admitted", node=joiner.id, address=request.address)
        return reply

    def _on_datagram(self, data: bytes, source: str) -> None:
        if self.runtime is not None:
            self.runtime.datagram_received(data, source)


async def _serve(options: NodeOptions, logger: Logger) -> int:
    node = Node(options, logger)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, node.request_stop)
    try:
        await node.start()
        if not options.mdns:
            logger.debug("mdns.disabled")
        else:
            logger.info("mdns.unavailable", reason="LAN discovery is not in this build; use --join")
        logger.info("node.started", node=node.node_key.public.id, mesh=node.mesh_root.id, address=node.address,
                    generation=node.generation, profile=options.profile, data_dir=str(node.data_dir))
        announce(node)
        await node.wait_stopped()
    finally:
        await node.shutdown()
    return 0


def run(options: NodeOptions) -> int:
    """Run a node in the foreground until SIGTERM, SIGINT or `micro node leave`; returns the exit code."""
    logger = Logger(sys.stderr, options.log_level)
    return asyncio.run(_serve(options, logger))
