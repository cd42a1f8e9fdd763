"""`vitrine serve --metrics-address`: the Prometheus endpoint counts what the server did."""

from __future__ import annotations

import urllib.request

import grpc
import pytest
from conftest import start_server
from prometheus_client.parser import text_string_to_metric_families

OPTIONS = {"max_triangles": 500, "lod_count": 1, "texture_size": 64, "resolution": 32}


def _scrape(port: int) -> dict[tuple[str, tuple], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        assert resp.status == 200
        text = resp.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_endpoint_counts_requests_generations_cache_and_bytes(tmp_path):
    from vitrine import Client, VitrineError

    server = start_server(tmp_path, metrics_address="127.0.0.1:0")
    try:
        port = server.running.metrics_port
        assert port
        with Client(server.address, timeout=120) as client:
            first = client.generate("procedural", "chair", seed=3, **OPTIONS)
            second = client.generate("procedural", "chair", seed=3, **OPTIONS)
            assert first.asset_id == second.asset_id
            with pytest.raises(VitrineError) as err:
                client.generate("no-such-model", "chair", seed=1, **OPTIONS)
            assert err.value.code == grpc.StatusCode.NOT_FOUND
        m = _scrape(port)
        assert _value(m, "vitrine_requests_total", rpc="Generate", model="procedural",
                      code="OK") == 2
        assert _value(m, "vitrine_requests_total", rpc="Generate", model="unknown",
                      code="NOT_FOUND") == 1
        assert _value(m, "vitrine_request_seconds_count", rpc="Generate") == 3
        assert _value(m, "vitrine_generations_total", model="procedural") == 1
        assert _value(m, "vitrine_generation_seconds_count", model="procedural") == 1
        assert _value(m, "vitrine_cache_hits_total") == 1
        assert _value(m, "vitrine_cache_misses_total") >= 1
        assert _value(m, "vitrine_cache_evictions_total") == 0
        assert _value(m, "vitrine_streamed_bytes_total") > 0
        assert ("vitrine_queue_depth", ()) in m
    finally:
        server.stop()
    with pytest.raises(OSError):  # stopped with the server
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)


def test_two_servers_keep_separate_counts(tmp_path):
    a = start_server(tmp_path / "a", metrics_address="127.0.0.1:0")
    b = start_server(tmp_path / "b", metrics_address="127.0.0.1:0")
    try:
        from vitrine import Client

        with Client(a.address, timeout=60) as client:
            client.list_models()
        assert _value(_scrape(a.running.metrics_port), "vitrine_requests_total",
                      rpc="ListModels", model="", code="OK") == 1
        assert _value(_scrape(b.running.metrics_port), "vitrine_requests_total",
                      rpc="ListModels", model="", code="OK") == 0
    finally:
        a.stop()
        b.stop()


def test_metrics_address_must_be_host_port(tmp_path):
    from server.config import ServerConfig

    with pytest.raises(ValueError):
        ServerConfig(data_dir=tmp_path, metrics_address="9100")
