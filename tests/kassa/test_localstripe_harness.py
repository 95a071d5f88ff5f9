"""The localstripe harness: loopback only, its own state, started and stopped cleanly."""

import json
import socket
from pathlib import Path

from kassa.localstripe_harness import LocalStripe


def _create_customer(server: LocalStripe) -> str:
    import stripe

    client = stripe.StripeClient("sk_test_x", base_addresses={"api": server.url}, max_network_retries=0)
    return client.v1.customers.create(params={"email": "a@example.com"}).id


def _customers(server: LocalStripe) -> list[str]:
    return [c["id"] for c in json.loads(server.request("GET", "/v1/customers"))["data"]]


def test_it_binds_loopback_only_and_keeps_state_in_its_own_file(tmp_path):
    state = tmp_path / "state.pickle"
    shared = Path("/tmp/localstripe.pickle")  # localstripe's own fixed path, shared by every instance
    before = shared.stat().st_mtime_ns if shared.exists() else None
    with LocalStripe(state_file=state) as server:
        listening = [conn for conn in _listeners() if conn[1] == server.port]
        assert listening
        assert all(addr == "127.0.0.1" for addr, _ in listening)
        customer = _create_customer(server)
    assert state.exists()
    assert (shared.stat().st_mtime_ns if shared.exists() else None) == before
    with LocalStripe(state_file=state) as again:
        assert customer in _customers(again)  # the state survived a restart


def test_without_a_state_file_every_start_is_empty_and_reset_empties(tmp_path):
    with LocalStripe() as server:
        _create_customer(server)
        assert len(_customers(server)) == 1
        server.reset()
        assert _customers(server) == []
    with LocalStripe() as fresh:
        assert _customers(fresh) == []


def test_stop_ends_the_process():
    server = LocalStripe().start()
    port = server.port
    process = server.process
    server.stop()
    assert process.poll() is not None
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0


def _listeners():
    """(address, port) of listening IPv4 TCP sockets, from /proc."""
    result = []
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            local, state = fields[1], fields[3]
            if state != "0A":  # LISTEN
                continue
            hex_addr, hex_port = local.split(":")
            addr = socket.inet_ntoa(bytes.fromhex(hex_addr)[::-1])
            result.append((addr, int(hex_port, 16)))
    with open("/proc/net/tcp6") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":
                hex_addr, hex_port = fields[1].split(":")
                result.append(("ipv6:" + hex_addr, int(hex_port, 16)))
    return result
