"""Server configuration: one dataclass, every default explained."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MiB = 1024 * 1024
# gRPC C++ clients (Unreal TurboLink) keep the 4 MiB default receive limit: no message may
# exceed it, so neither may ours, and chunks stay well under it.
MAX_MESSAGE_BYTES = 4 * MiB


@dataclass
class ServerConfig:
    address: str = "127.0.0.1:50051"  # host:port; port 0 picks a free port (tests)
    data_dir: Path = Path(".vitrine-data")  # cache index and blobs
    cache_max_bytes: int = 2 * 1024 * MiB  # cache size cap; least recently used assets go first
    # Verified copies of recently used assets kept in memory (hits skip the disk and the
    # sha256). Part of the server's RSS: it grows until this cap, then stays.
    cache_memory_bytes: int = 256 * MiB
    chunk_bytes: int = 256 * 1024  # bytes per Chunk; chosen by bench/bench_serve.py's sweep
    workers: int = 2  # generation processes (or threads); one per core on the 2-core machine
    # Run generation in `workers` processes (server/workers.py) instead of threads. Open3D's
    # decimation and ray casting hold the GIL for a whole call: on threads they stall the
    # event loop (refusals took 114 ms p95) and two threads cannot use two cores. Needs the
    # models loaded by name (create_server(config) with models=None); `vitrine serve` sets it.
    worker_processes: bool = False
    torch_threads: int = 0  # per generation process; 0 = cores / workers, at least 1
    # A generation process holding more than this after a call is replaced (server/workers.py):
    # with every model loaded a worker starts at ~440 MiB and its map variants may take up to
    # 256 MiB per prop model, so 2 GiB leaves room and still bounds the RSS. 0 = never.
    worker_max_rss_mib: int = 2048
    max_queue: int = 32  # jobs waiting beyond the running ones before RESOURCE_EXHAUSTED
    max_batch: int = 8  # specs per model call when a GenerateBatch has cache misses
    max_batch_requests: int = 256  # requests in one GenerateBatch call
    # Dynamic batching (server/batching.py): concurrent cache misses for one of
    # `batch_models` wait up to this long for others and run as one model call of at most
    # max_batch specs. 0 = off: the shipped generators run one forward per spec (a batched
    # voxel-gan forward differs in the last bits), so a batch is the same work in one worker
    # process where separate calls use both; bench/bench_serve.py's ratio (voxel-gan, 8
    # clients, 20 ms) was 2.15x and 0.65x in two runs on a heavily shared machine: noise.
    batch_delay_ms: float = 0.0
    batch_models: tuple[str, ...] = ("voxel-gan", "implicit-gan")
    # Accept client keepalive pings this often even with no call open. TurboLink pings every
    # 45 s; 10 s leaves room for clients tuned tighter. Faster pings get GOAWAY too_many_pings.
    min_ping_interval_ms: int = 10_000
    # The server's own keepalive pings, to notice dead engine connections.
    keepalive_time_ms: int = 60_000
    keepalive_timeout_ms: int = 20_000
    shutdown_grace_s: float = 30.0  # in-flight streams get this long to finish on shutdown
    models: tuple[str, ...] = ()  # models to load; empty = every registered model
    # Folders of exported models (`vitrine export FAMILY --run RUN` writes them) served beside
    # the shipped ones, e.g. a studio's model trained on its own meshes.
    model_dirs: tuple[str, ...] = ()
    # host:port of the Prometheus metrics endpoint (HTTP, GET /metrics); None = not served.
    # Port 0 picks a free port (tests).
    metrics_address: str | None = None
    # host:port of the HTTP face (JSON catalog and generation, asset files by URL, the web
    # viewer at /viewer/; server/http.py); None = not served. Port 0 picks a free port (tests).
    http_address: str | None = None
    # The web viewer's static files, served at /viewer/ by the HTTP face when the folder exists.
    viewer_dir: Path = Path(__file__).resolve().parents[1] / "clients" / "web"
    # TLS for both faces (PEM files); None = plaintext. With tls_client_ca, clients must
    # present a certificate signed by that CA (mTLS).
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    # The tokens file (server/auth.py documents it); None = no authentication, and clients
    # are told apart by their peer host.
    auth_tokens: Path | None = None
    # Per-client limits for clients whose token line does not set its own (server/limits.py).
    client_concurrency: int = 16  # calls in progress at once per client
    client_rate: float = 50.0  # calls started per second per client; 0 = unlimited
    client_burst: int = 0  # calls above the rate at once; 0 = max(1, rate)
    # HTTP/2 streams one connection may have open at once (grpc.max_concurrent_streams),
    # beyond which grpc core answers RST_STREAM REFUSED_STREAM (clients see UNAVAILABLE).
    # Streams whose call has ended still count until both ends have closed them: at 64, a
    # soak with 16 logical calls per connection and fast refusals saw 63 UNAVAILABLE in 30 s
    # on a loaded 2-core machine (bench/bench_soak.py). Per-client concurrency
    # (client_concurrency) is the limit on calls; this one only bounds a runaway connection.
    max_streams_per_connection: int = 256

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        if not 1024 <= self.chunk_bytes <= MAX_MESSAGE_BYTES - 64 * 1024:
            raise ValueError(
                f"chunk_bytes must be 1 KiB to {(MAX_MESSAGE_BYTES - 64 * 1024) // 1024} KiB, "
                f"got {self.chunk_bytes}"
            )
        if self.workers < 1 or self.max_queue < 0 or self.max_batch < 1:
            raise ValueError("workers and max_batch must be >= 1, max_queue >= 0")
        if self.worker_max_rss_mib < 0 or self.torch_threads < 0:
            raise ValueError("--worker-max-rss-mib and --torch-threads must be >= 0 (0 = no cap, "
                             "and cores / --workers)")
        if not 0 <= self.batch_delay_ms <= 1000:
            raise ValueError(f"batch delay must be 0 to 1000 ms, got {self.batch_delay_ms}")
        self.batch_models = tuple(self.batch_models)
        if self.metrics_address is not None:
            host, sep, port = self.metrics_address.rpartition(":")
            if not (sep and host and port.isdigit() and int(port) <= 65535):
                raise ValueError(f"metrics address must be HOST:PORT, got "
                                 f"{self.metrics_address!r}")
        if self.http_address is not None:
            host, sep, port = self.http_address.rpartition(":")
            if not (sep and host and port.isdigit() and int(port) <= 65535):
                raise ValueError(f"HTTP address must be HOST:PORT, got {self.http_address!r}")
        self.viewer_dir = Path(self.viewer_dir)
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("TLS needs both a certificate and its key (--tls-cert, --tls-key)")
        if self.tls_client_ca is not None and self.tls_cert is None:
            raise ValueError("--tls-client-ca needs --tls-cert and --tls-key")
        if self.max_streams_per_connection < 1:
            raise ValueError("max_streams_per_connection must be >= 1")
        self.client_limits()  # refuse bad limits at start

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None

    def client_limits(self):
        """The default per-client limits (ValueError when out of range)."""
        from server.limits import ClientLimits

        return ClientLimits(self.client_concurrency, self.client_rate, self.client_burst)

    def channel_options(self) -> list[tuple[str, int]]:
        """gRPC core options for the server."""
        return [
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.min_recv_ping_interval_without_data_ms", self.min_ping_interval_ms),
            ("grpc.http2.min_ping_interval_without_data_ms", self.min_ping_interval_ms),
            ("grpc.keepalive_time_ms", self.keepalive_time_ms),
            ("grpc.keepalive_timeout_ms", self.keepalive_timeout_ms),
            ("grpc.http2.max_pings_without_data", 0),  # our own pings: no limit while idle
            # Without this, Linux lets a second server bind the same port and steal calls.
            ("grpc.so_reuseport", 0),
            ("grpc.max_concurrent_streams", self.max_streams_per_connection),
        ]
