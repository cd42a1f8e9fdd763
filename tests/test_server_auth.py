"""server/auth.py: bearer tokens (gRPC and HTTP), TLS and mTLS, the tokens file, request ids."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import pytest
from conftest import start_server
from grpc_health.v1 import health_pb2, health_pb2_grpc
from support.gltf_validator import assert_valid_glb
from vitrine.v1 import assets_pb2 as pb
from vitrine.v1 import assets_pb2_grpc as pb_grpc

from server.auth import Authenticator, TokenFileError, parse_tokens
from server.limits import ClientLimits

TOKEN_A = "a" * 24 + "0123456789"
TOKEN_B = "b" * 24 + "9876543210"


def _procedural():
    """Only the procedural model: other families' work in progress cannot break these tests."""
    from generators.core.registry import load_models

    return load_models(("procedural",))


FAST = {"max_triangles": 500, "lod_count": 1, "texture_size": 64, "resolution": 32}


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(d: Path) -> Path:
    """A throwaway CA (ca.pem), a server certificate for localhost/127.0.0.1 (server.pem,
    server.key) and a client certificate (client.pem, client.key) in `d`."""
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
             "ca.pem", "-days", "2", "-subj", "/CN=vitrine test CA", cwd=d)
    (d / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for name, ext in (("server", ["-extfile", "san.ext"]), ("client", [])):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
                 f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", *ext, cwd=d)
    return d


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Path:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tokens_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tokens") / "tokens"
    path.write_text(f"# test clients\n{TOKEN_A} studio-a concurrency=4 rate=20/s\n\n"
                    f"{TOKEN_B}   build-farm   # defaults\n")
    return path


# ---------------------------------------------------------------------------- the file


def test_tokens_file_gives_names_and_limits(tokens_file):
    defaults = ClientLimits(concurrency=16, rate=50)
    tokens = parse_tokens(tokens_file, defaults)
    assert {t: i.name for t, i in tokens.items()} == {TOKEN_A: "studio-a", TOKEN_B: "build-farm"}
    assert tokens[TOKEN_A].limits == ClientLimits(concurrency=4, rate=20)
    assert tokens[TOKEN_B].limits == defaults
    auth = Authenticator(tokens, defaults)
    assert auth.identify(f"Bearer {TOKEN_A}", "h").name == "studio-a"
    assert auth.identify(f"bearer {TOKEN_B}", "h").name == "build-farm"
    for bad in (None, "", TOKEN_A, f"Basic {TOKEN_A}", f"Bearer {TOKEN_A}x", "Bearer "):
        assert auth.identify(bad, "h") is None
    assert Authenticator(None, defaults).identify(None, "10.0.0.7").name == "peer:10.0.0.7"


@pytest.mark.parametrize("text,says", [
    (f"{TOKEN_A}\n", ":1: expected '<token> <client-name>"),
    ("# c\n\nshort name\n", ":3: token too short"),
    (f"{TOKEN_A} a b=c\n", ":1: 'b=c': expected concurrency=N"),
    (f"{TOKEN_A} a rate=fast\n", ":1: 'rate=fast': rate must be R/s"),
    (f"{TOKEN_A} a concurrency=0\n", "concurrency must be an integer >= 1"),
    (f"{TOKEN_A} a\n{TOKEN_A} b\n", ":2: this token is already given to 'a'"),
    (f"{TOKEN_A} a\n{TOKEN_B} a\n", ":2: client name 'a' appears twice"),
    (f"{TOKEN_A} bad/name\n", ":1: client name 'bad/name'"),
    ("# nothing\n", "no tokens"),
])
def test_a_malformed_tokens_file_names_the_line(tmp_path, text, says):
    path = tmp_path / "tokens"
    path.write_text(text)
    with pytest.raises(TokenFileError) as err:
        parse_tokens(path, ClientLimits())
    assert says in str(err.value) and str(path) in str(err.value)


def test_serve_refuses_an_unreadable_or_malformed_tokens_file(tmp_path):
    bad = tmp_path / "tokens"
    bad.write_text(f"{TOKEN_A} ok\nnot-a-valid-line\n")
    for path, says in ((tmp_path / "missing", "cannot read the tokens file"),
                       (bad, f"{bad}:2: expected")):
        r = subprocess.run([sys.executable, "-m", "vitrine.cli", "serve", "--address",
                            "127.0.0.1:0", "--models", "procedural", "--data-dir",
                            str(tmp_path / "data"), "--auth-tokens", str(path)],
                           capture_output=True, text=True, timeout=120, check=False)
        assert r.returncode == 2, r.stderr
        assert "--auth-tokens" in r.stderr and says in r.stderr, r.stderr
        assert "Traceback" not in r.stderr


# ---------------------------------------------------------------------------- tokens on gRPC


@pytest.fixture(scope="module")
def token_server(tmp_path_factory, tokens_file):
    server = start_server(tmp_path_factory.mktemp("tok"), models=_procedural(), auth_tokens=tokens_file,
                          http_address="127.0.0.1:0")
    yield server
    server.stop()


def test_no_or_wrong_token_is_unauthenticated_and_health_stays_open(token_server):
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    with grpc.insecure_channel(token_server.address) as ch:
        stub = pb_grpc.AssetServiceStub(ch)
        for metadata in (None, (("authorization", "Bearer wrong-token-0123456789"),),
                         (("authorization", TOKEN_A),)):
            with pytest.raises(grpc.RpcError) as err:
                stub.ListModels(pb.ListModelsRequest(), metadata=metadata, timeout=10)
            assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
            with pytest.raises(grpc.RpcError) as err:
                list(stub.Generate(pb.GenerateRequest(model="procedural", category="chair"),
                                   metadata=metadata, timeout=10))
            assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        refl = reflection_pb2_grpc.ServerReflectionStub(ch)
        ask = [reflection_pb2.ServerReflectionRequest(list_services="")]
        with pytest.raises(grpc.RpcError) as err:
            next(refl.ServerReflectionInfo(iter(ask), timeout=10))
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        reply = next(refl.ServerReflectionInfo(
            iter(ask), timeout=10, metadata=(("authorization", f"Bearer {TOKEN_B}"),)))
        assert "vitrine.v1.AssetService" in {
            s.name for s in reply.list_services_response.service}
        health = health_pb2_grpc.HealthStub(ch)
        assert health.Check(health_pb2.HealthCheckRequest(), timeout=10).status == \
            health_pb2.HealthCheckResponse.SERVING
    assert token_server.service.metrics.refusals.labels(
        "unauthenticated", "unauthenticated")._value.get() >= 7


def test_the_right_token_gets_assets_and_a_request_id(token_server, tmp_path):
    from vitrine import Client, VitrineError

    with Client(token_server.address, token=TOKEN_A, timeout=120) as client:
        asset = client.generate("procedural", "chair", seed=5, **FAST)
        assert_valid_glb(next(iter(asset.files.values())))
    with Client(token_server.address, token="", timeout=30) as client, \
            pytest.raises(VitrineError) as err:
        client.list_models()
    assert err.value.code == grpc.StatusCode.UNAUTHENTICATED and "VITRINE_TOKEN" in str(err.value)
    with grpc.insecure_channel(token_server.address) as ch:
        stub = pb_grpc.AssetServiceStub(ch)
        auth = (("authorization", f"Bearer {TOKEN_A}"),)
        _, call = stub.ListModels.with_call(pb.ListModelsRequest(), metadata=auth, timeout=10)
        rid = dict(call.trailing_metadata())["x-request-id"]
        assert len(rid) == 16
        # a refusal carries it too, and a client's own id is kept
        with pytest.raises(grpc.RpcError) as err:
            list(stub.Fetch(pb.FetchRequest(asset_id="f" * 32), timeout=10,
                            metadata=(*auth, ("x-request-id", "engine-42"))))
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        assert dict(err.value.trailing_metadata())["x-request-id"] == "engine-42"


def test_the_cli_takes_a_token_from_the_flag_or_the_environment(token_server, tmp_path):
    import os

    base = [sys.executable, "-m", "vitrine.cli", "models", "--address", token_server.address]
    env = {k: v for k, v in os.environ.items() if k != "VITRINE_TOKEN"}
    r = subprocess.run(base, capture_output=True, text=True, timeout=60, env=env, check=False)
    assert r.returncode == 1 and "UNAUTHENTICATED" not in r.stdout and "token" in r.stderr
    r = subprocess.run([*base, "--token", TOKEN_B], capture_output=True, text=True, timeout=60,
                       env=env, check=False)
    assert r.returncode == 0 and "procedural" in r.stdout, r.stderr
    r = subprocess.run(base, capture_output=True, text=True, timeout=60,
                       env=env | {"VITRINE_TOKEN": TOKEN_A}, check=False)
    assert r.returncode == 0 and "procedural" in r.stdout, r.stderr


def _http(url: str, token: str | None = None, method: str = "GET", context=None, headers=None):
    req = urllib.request.Request(url, method=method, headers=dict(headers or {}))
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30, context=context) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_http_face_takes_the_same_tokens(token_server):
    base = f"http://127.0.0.1:{token_server.running.http_port}"
    status, headers, body = _http(f"{base}/v1/models")
    assert status == 401 and headers["WWW-Authenticate"] == "Bearer"
    assert json.loads(body)["code"] == "UNAUTHENTICATED"
    assert "X-Request-Id" in headers
    status, headers, body = _http(f"{base}/v1/models", TOKEN_A,
                                  headers={"X-Request-Id": "abc-1"})
    assert status == 200 and "procedural" in {m["name"] for m in json.loads(body)["models"]}
    assert headers["X-Request-Id"] == "abc-1"
    status, headers, _ = _http(f"{base}/v1/models", method="OPTIONS", headers={
        "Origin": "https://example.com", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "Authorization"})
    assert status == 204 and "Authorization" in headers["Access-Control-Allow-Headers"]
    status, _, _ = _http(f"{base}/viewer/")  # the viewer's files stay open
    assert status == 200


# ---------------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory, pki, tokens_file):
    server = start_server(tmp_path_factory.mktemp("tls"), models=_procedural(), tls_cert=pki / "server.pem",
                          tls_key=pki / "server.key", auth_tokens=tokens_file,
                          http_address="127.0.0.1:0")
    yield server
    server.stop()


def test_tls_with_the_right_token_gets_assets_and_plaintext_fails(tls_server, pki):
    from vitrine import Client, VitrineError

    address = f"localhost:{tls_server.running.port}"
    with Client(address, token=TOKEN_A, ca_file=pki / "ca.pem", timeout=120) as client:
        asset = client.generate("procedural", "vase", seed=2, **FAST)
        assert_valid_glb(next(iter(asset.files.values())))
        assert client.fetch(asset.asset_id).files == asset.files
    with Client(address, ca_file=pki / "ca.pem", token="", timeout=30) as client, \
            pytest.raises(VitrineError) as err:
        client.list_models()
    assert err.value.code == grpc.StatusCode.UNAUTHENTICATED
    with Client(address, token=TOKEN_A, timeout=10) as client, \
            pytest.raises(VitrineError) as err:  # plaintext to the TLS port
        client.list_models()
    assert err.value.code == grpc.StatusCode.UNAVAILABLE
    with Client(address, token=TOKEN_A, tls=True, timeout=10) as client, \
            pytest.raises(VitrineError) as err:  # TLS, but not trusting the test CA
        client.list_models()
    assert err.value.code == grpc.StatusCode.UNAVAILABLE
    r = subprocess.run([sys.executable, "-m", "vitrine.cli", "models", "--address", address,
                        "--token", TOKEN_B, "--ca-file", str(pki / "ca.pem")],
                       capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 0 and "procedural" in r.stdout, r.stderr


@pytest.mark.parametrize("flags,says", [
    (["--tls-cert", "c.pem"], "needs both a certificate and its key"),
    (["--tls-client-ca", "ca.pem"], "--tls-client-ca needs --tls-cert"),
    (["--tls-cert", "missing.pem", "--tls-key", "missing.key"], "cannot read the TLS key"),
])
def test_serve_refuses_incomplete_or_unreadable_tls_files(tmp_path, flags, says):
    r = subprocess.run([sys.executable, "-m", "vitrine.cli", "serve", "--address",
                        "127.0.0.1:0", "--models", "procedural", "--data-dir",
                        str(tmp_path / "data"), *flags], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 2 and says in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_the_http_face_is_https_with_the_same_certificate(tls_server, pki):
    base = f"https://localhost:{tls_server.running.http_port}"
    ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    status, _, body = _http(f"{base}/v1/models", TOKEN_B, context=ctx)
    assert status == 200 and json.loads(body)["models"]
    assert _http(f"{base}/v1/models", context=ctx)[0] == 401
    with pytest.raises((urllib.error.URLError, ConnectionError)):  # plaintext HTTP to the HTTPS port
        urllib.request.urlopen(f"http://localhost:{tls_server.running.http_port}/v1/models",
                               timeout=10)


def test_mtls_refuses_a_client_without_a_certificate(tmp_path, pki):
    from vitrine import Client, VitrineError

    server = start_server(tmp_path, models=_procedural(), tls_cert=pki / "server.pem", tls_key=pki / "server.key",
                          tls_client_ca=pki / "ca.pem")
    try:
        address = f"localhost:{server.running.port}"
        with Client(address, ca_file=pki / "ca.pem", timeout=10) as client, \
                pytest.raises(VitrineError) as err:
            client.list_models()
        assert err.value.code == grpc.StatusCode.UNAVAILABLE
        with Client(address, ca_file=pki / "ca.pem", cert_file=pki / "client.pem",
                    key_file=pki / "client.key", timeout=30) as client:
            assert "procedural" in {m.name for m in client.list_models()}
    finally:
        server.stop()


# ---------------------------------------------------------------------------- logs


def test_log_lines_carry_the_request_id_and_the_file_rotates(tmp_path, tokens_file):
    from test_reliability import ServeProcess

    log_file = tmp_path / "vitrine.log"
    server = ServeProcess(tmp_path / "run", tmp_path / "data", "--auth-tokens",
                          str(tokens_file), "--log-file", str(log_file), "--log-format", "json")
    try:
        with grpc.insecure_channel(server.address) as ch:
            stub = pb_grpc.AssetServiceStub(ch)
            with pytest.raises(grpc.RpcError) as err:
                stub.ListModels(pb.ListModelsRequest(), timeout=10,
                                metadata=(("x-request-id", "trace-me-1"),))
            assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert dict(err.value.trailing_metadata())["x-request-id"] == "trace-me-1"
    finally:
        server.stop()
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert {"time", "level", "logger", "request_id", "message"} <= set(lines[0])
    mine = [d for d in lines if d["request_id"] == "trace-me-1"]
    assert mine and "UNAUTHENTICATED" in mine[0]["message"]
    assert any("vitrine serving on" in d["message"] and d["request_id"] == "-" for d in lines)


def test_serve_logging_rotates_by_size(tmp_path):
    import logging
    import logging.handlers

    from server.cli import LOG_FILE_BACKUPS, LOG_FILE_BYTES, setup_serve_logging

    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        setup_serve_logging("INFO", str(tmp_path / "v.log"), "text")
        files = [h for h in root.handlers if isinstance(h, logging.handlers.RotatingFileHandler)]
        assert len(files) == 1
        assert (files[0].maxBytes, files[0].backupCount) == (LOG_FILE_BYTES, LOG_FILE_BACKUPS)
        assert LOG_FILE_BYTES * (LOG_FILE_BACKUPS + 1) <= 64 * 2**20
        logging.getLogger("server.test").info("hello")
        files[0].flush()
        assert "INFO server.test [-]: hello" in (tmp_path / "v.log").read_text()
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
            h.close()
        for h in saved[0]:
            root.addHandler(h)
        root.setLevel(saved[1])
