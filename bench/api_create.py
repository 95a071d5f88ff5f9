"""Benchmark: Kassa's ``POST /v1/customers`` against a bare Django + DRF create endpoint.

What it measures
    Throughput (successful requests per second) and latency (p50, p99) of
    creating one customer through Kassa's full API stack: API-key
    authentication, rate limiting, idempotency keys, strict parameter
    parsing, the service layer and Stripe-shaped rendering. Next to it, in the
    same run and on the same machine, the *baseline*: a tiny separate Django
    project (``bench/baseline/``) whose DRF view looks a Bearer token up by its
    sha256 in one indexed query, inserts one row and returns a small JSON body.
    It is roughly the least any Django + DRF create endpoint can cost, so it
    calibrates the number for this machine.

    Both run under the same gunicorn settings (gthread, 2 workers x 4 threads)
    on their own fresh PostgreSQL database, and are driven alternately for a
    few rounds by the same stdlib load generator: a fixed number of
    keep-alive HTTP/1.1 connections (one thread each), each sending the next
    request as soon as the last answer arrived, every request with a fresh
    ``Idempotency-Key`` as stripe-python sends. Each round warms up first;
    only requests that complete inside the measured window count.

How to run
    From the repository root, with PostgreSQL on 127.0.0.1:5432 (trust auth,
    user ``postgres``)::

        .venv/bin/python bench/api_create.py            # or: make bench
        .venv/bin/python bench/api_create.py --rounds 5 --seconds 20 --concurrency 8

    It creates (and at the end drops) the databases ``kassa_bench`` and
    ``kassa_bench_baseline``, runs the migrations, creates a merchant, serves
    both projects on free loopback ports and stops them again, also on Ctrl-C
    or failure. Nothing outside a temporary directory is written.

How to read it
    Each round prints a line as it ends; then the table shows, per path, the
    median over rounds of req/s (2xx answers only), p50 and p99 latency and
    the gunicorn workers' CPU per request, and the total non-2xx count.

    ``ratio`` is Kassa's req/s divided by the baseline's: the share of a bare
    Django + DRF endpoint's throughput that Kassa keeps. The goal is a ratio
    of at least 0.5 (Kassa's extra work per request at most doubles the cost
    of the minimum). Absolute numbers depend on the machine; the ratio is the
    figure to compare across machines and commits. On a busy machine (other
    processes taking CPU) req/s moves from round to round; the CPU-per-request
    cross-check (baseline's CPU ms / Kassa's, read from /proc on Linux) hardly
    does, so when the two ratios disagree, trust the quieter run. The line
    per round also shows how much CPU the load generator itself took.

    Kassa runs with production settings (``DEBUG=false``) and throwaway
    secrets; ``--debug`` runs it with ``DEBUG=true`` instead.
    Any non-2xx answer makes the run fail loudly (a banner with the status
    codes, sample bodies and the server's stderr; exit status 1): its numbers
    are not a valid measurement.
"""

import argparse
import base64
import contextlib
import hashlib
import itertools
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
PYTHON = sys.executable
PG_URL = "postgres://postgres@127.0.0.1:5432"
KASSA_DB = "kassa_bench"
BASELINE_DB = "kassa_bench_baseline"
GUNICORN_ARGS = ["--worker-class", "gthread", "--workers", "2", "--threads", "4"]


# --- load generator ---------------------------------------------------------


class HTTPConnection:
    """One keep-alive HTTP/1.1 connection: send a prepared request, read the whole answer.

    Deliberately small (the load generator shares the CPUs with the servers):
    a Content-Length or chunked body, reconnect when the server closes.
    """

    def __init__(self, port: int):
        self.port = port
        self.sock: socket.socket | None = None
        self.buf = b""

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock, self.buf = None, b""

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("server closed the connection")
        self.buf += data

    def _take_line(self) -> bytes:
        while (end := self.buf.find(b"\r\n")) < 0:
            self._fill()
        line, self.buf = self.buf[:end], self.buf[end + 2 :]
        return line

    def _take(self, size: int) -> bytes:
        while len(self.buf) < size:
            self._fill()
        data, self.buf = self.buf[:size], self.buf[size:]
        return data

    def request(self, payload: bytes) -> tuple[int, bytes]:
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(payload)
        while (end := self.buf.find(b"\r\n\r\n")) < 0:
            self._fill()
        head, self.buf = self.buf[:end], self.buf[end + 4 :]
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip().lower()
        if headers.get(b"transfer-encoding") == b"chunked":
            chunks = []
            while size := int(self._take_line().split(b";")[0], 16):
                chunks.append(self._take(size))
                self._take(2)
            while self._take_line():  # trailers, up to the empty line
                pass
            body = b"".join(chunks)
        else:
            body = self._take(int(headers.get(b"content-length", b"0")))
        if headers.get(b"connection") == b"close":
            self.close()
        return status, body


@dataclass
class Target:
    name: str
    port: int
    path: str
    secret: str


@dataclass
class RoundResult:
    seconds: float
    latencies: list[float] = field(default_factory=list)  # seconds, 2xx answers inside the window
    statuses: dict[str, int] = field(default_factory=dict)  # non-2xx status (or exception name) -> count
    samples: list[str] = field(default_factory=list)  # a few bodies of non-2xx answers
    client_cpu: float = 0.0  # CPU seconds the load generator itself used, warm-up included
    server_cpu: float | None = None  # CPU seconds of the gunicorn workers in the measured window (Linux)

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds

    @property
    def errors(self) -> int:
        return sum(self.statuses.values())

    @property
    def server_cpu_ms(self) -> float:
        """Gunicorn workers' CPU per successful request: insensitive to other load on the machine."""
        if self.server_cpu is None or not self.latencies:
            return float("nan")
        return self.server_cpu / len(self.latencies) * 1000

    def percentile_ms(self, pct: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))] * 1000


_sequence = itertools.count(1)  # unique emails across threads and rounds (next() is atomic under the GIL)


def build_request(target: Target) -> bytes:
    body = f"email=bench-{next(_sequence)}%40example.com".encode()
    head = (
        f"POST {target.path} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{target.port}\r\n"
        f"Authorization: Bearer {target.secret}\r\n"
        f"Idempotency-Key: {uuid.uuid4()}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n"
        "User-Agent: kassa-bench\r\n"
        "\r\n"
    )
    return head.encode() + body


def drive(
    target: Target,
    server_cpu: Callable[[], float | None],
    *,
    concurrency: int,
    warmup: float,
    seconds: float,
    build: Callable[[Target], bytes] = build_request,
) -> RoundResult:
    """Keep ``concurrency`` connections busy for ``warmup + seconds``; record the last ``seconds``.

    ``build`` makes each request's bytes (other benchmarks pass their own).
    """
    result = RoundResult(seconds=seconds)
    lock = threading.Lock()
    cpu_before = time.process_time()
    start = time.perf_counter() + warmup
    stop = start + seconds

    def worker() -> None:
        conn = HTTPConnection(target.port)
        latencies, statuses, samples = [], {}, []
        try:
            while (sent := time.perf_counter()) < stop:
                try:
                    status, body = conn.request(build(target))
                except (OSError, ValueError, IndexError) as exc:
                    conn.close()
                    status, body = type(exc).__name__, str(exc).encode()
                done = time.perf_counter()
                if isinstance(status, int) and 200 <= status < 300:
                    if start <= done <= stop:
                        latencies.append(done - sent)
                else:
                    statuses[str(status)] = statuses.get(str(status), 0) + 1
                    if len(samples) < 3:
                        samples.append(f"{status}: {body[:300].decode(errors='replace')}")
                    if not isinstance(status, int):
                        time.sleep(0.05)  # connection refused or reset: do not spin
        finally:
            conn.close()
            with lock:
                result.latencies.extend(latencies)
                for key, count in statuses.items():
                    result.statuses[key] = result.statuses.get(key, 0) + count
                result.samples.extend(samples[: max(0, 5 - len(result.samples))])

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, start - time.perf_counter()))
    cpu_start = server_cpu()
    for thread in threads:
        thread.join()
    cpu_stop = server_cpu()
    if cpu_start is not None and cpu_stop is not None:
        result.server_cpu = cpu_stop - cpu_start
    result.client_cpu = time.process_time() - cpu_before
    return result


# --- databases and servers --------------------------------------------------


def admin_execute(sql: str) -> None:
    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def recreate_database(name: str) -> None:
    admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin_execute(f'CREATE DATABASE "{name}"')


def run(cmd: list[str], *, env: dict, cwd: Path) -> str:
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}")
    return proc.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A gunicorn master (and its workers) started by this script, with stderr kept in a file."""

    def __init__(self, name: str, app: str, *, env: dict, cwd: Path, logdir: Path):
        self.name = name
        self.port = free_port()
        self.log = logdir / f"{name}.stderr.log"
        # No control socket: gunicorn's default path is shared by every gunicorn of the user.
        cmd = [PYTHON, "-m", "gunicorn", app, *GUNICORN_ARGS, "--no-control-socket", "--bind", f"127.0.0.1:{self.port}"]
        with self.log.open("wb") as stderr:
            # Own session: Ctrl-C reaches only this script, which then stops the server in order.
            self.proc = subprocess.Popen(
                cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True
            )

    def wait_ready(self, path: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.port}{path}"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.dump_log()
                raise SystemExit(f"{self.name}: gunicorn exited with status {self.proc.returncode}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        self.dump_log()
        raise SystemExit(f"{self.name}: no 200 from {url} within {timeout:.0f} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # gunicorn: graceful shutdown of the master and its workers
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def worker_cpu(self) -> float | None:
        """User + system CPU seconds used so far by the master's worker processes, from /proc (Linux)."""
        try:
            pids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
            ticks = 0
            for pid in pids:
                fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
                ticks += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            return None
        return ticks / os.sysconf("SC_CLK_TCK")

    def notable_log_lines(self, limit: int = 30) -> list[str]:
        lines = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        keep = [line for line in lines if "[INFO]" not in line]  # gunicorn's start-up and shutdown chatter
        return keep[-limit:]

    def dump_log(self) -> None:
        lines = self.notable_log_lines()
        if lines:
            print(f"--- {self.name} server stderr (last {len(lines)} notable lines) ---", flush=True)
            print("\n".join(lines), flush=True)


def kassa_env(tmp: Path, *, debug: bool, db: str = KASSA_DB) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": f"{PG_URL}/{db}",
        "DEBUG": "true" if debug else "false",
        "SECURE_SSL_REDIRECT": "false",
        "KASSA_RATE_LIMIT_TEST": "1000000/s",
        "KASSA_VAR_DIR": str(tmp / "kassa-var"),  # keep the repository's var/ untouched
        "PYTHONPATH": str(REPO),
        "DJANGO_SETTINGS_MODULE": "kassa.settings",
    }
    if not debug:  # production settings need every secret set: throwaway ones, for this run only
        env["SECRET_KEY"] = secrets.token_urlsafe(50)
        env["KASSA_ENCRYPTION_KEYS"] = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
        env["ALLOWED_HOSTS"] = "127.0.0.1"
    return env


def baseline_env(db: str = BASELINE_DB) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": f"{PG_URL}/{db}",
        "PYTHONPATH": str(BENCH),
        "DJANGO_SETTINGS_MODULE": "baseline.settings",
    }


def migrate_kassa(env: dict, db: str = KASSA_DB) -> None:
    """A fresh database ``db`` with Kassa's migrations applied (``env`` must point at it)."""
    recreate_database(db)
    run([PYTHON, "manage.py", "migrate", "--noinput"], env=env, cwd=REPO)


def setup_kassa(env: dict) -> str:
    """Migrate Kassa's database and create the bench merchant; return its test secret key."""
    migrate_kassa(env)
    out = run(
        [PYTHON, "manage.py", "merchant_create", "--name", "Bench", "--owner-email", "bench@example.com", "--json"],
        env=env,
        cwd=REPO,
    )
    line = next(line for line in reversed(out.splitlines()) if line.startswith("{"))
    return json.loads(line)["secret_key"]


def setup_baseline(env: dict, db: str = BASELINE_DB) -> str:
    """Migrate the baseline's database and seed one token; return the token's secret."""
    recreate_database(db)
    run([PYTHON, "-m", "django", "migrate", "--noinput"], env=env, cwd=BENCH)
    secret = "bt_" + secrets.token_urlsafe(24)
    with psycopg.connect(f"{PG_URL}/{db}", autocommit=True) as conn:
        conn.execute("INSERT INTO bench_token (key_hash) VALUES (%s)", (hashlib.sha256(secret.encode()).hexdigest(),))
    return secret


# --- report -----------------------------------------------------------------


@dataclass
class Summary:
    rps: float
    p50: float
    p99: float
    cpu_ms: float
    errors: int

    @classmethod
    def of(cls, rounds: list[RoundResult]) -> "Summary":
        """Medians over the rounds (the non-2xx count is the total)."""
        return cls(
            rps=statistics.median(r.rps for r in rounds),
            p50=statistics.median(r.percentile_ms(50) for r in rounds),
            p99=statistics.median(r.percentile_ms(99) for r in rounds),
            cpu_ms=statistics.median(r.server_cpu_ms for r in rounds),
            errors=sum(r.errors for r in rounds),
        )


def print_table(results: dict[str, list[RoundResult]], targets: dict[str, Target]) -> float:
    summaries = {name: Summary.of(rounds) for name, rounds in results.items()}
    print()
    print(f"{'path':<26} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/req':>10} {'non-2xx':>8}   req/s per round")
    for name, x in summaries.items():
        label = f"{name} POST {targets[name].path}"
        per_round = " ".join(f"{r.rps:.0f}" for r in results[name])
        print(f"{label:<26} {x.rps:>8.1f} {x.p50:>8.2f} {x.p99:>8.2f} {x.cpu_ms:>10.2f} {x.errors:>8}   {per_round}")
    kassa, baseline = summaries["kassa"], summaries["baseline"]
    ratio = kassa.rps / baseline.rps
    verdict = "meets" if ratio >= 0.5 else "BELOW"
    print(f"\nratio kassa/baseline req/s: {ratio:.2f}  ({verdict} the goal of >= 0.5)")
    print(f"cross-check, baseline/kassa worker CPU per request: {baseline.cpu_ms / kassa.cpu_ms:.2f}")
    return ratio


def report_errors(results: dict[str, list[RoundResult]], servers: dict[str, Server]) -> bool:
    failed = False
    for name, rounds in results.items():
        statuses: dict[str, int] = {}
        for r in rounds:
            for key, count in r.statuses.items():
                statuses[key] = statuses.get(key, 0) + count
        if not statuses:
            continue
        failed = True
        print("\n" + "!" * 78, flush=True)
        print(f"!!! {name}: {sum(statuses.values())} NON-2XX ANSWERS - THIS MEASUREMENT IS NOT VALID", flush=True)
        print(f"!!! by status: {dict(sorted(statuses.items()))}", flush=True)
        for sample in [s for r in rounds for s in r.samples][:5]:
            print(f"!!! sample {sample}", flush=True)
        print("!" * 78, flush=True)
        servers[name].dump_log()
    return failed


def _interrupt(signum, frame):
    """SIGTERM (e.g. from CI) unwinds like Ctrl-C, through main()'s clean-up."""
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per path (default 3)")
    parser.add_argument("--seconds", type=float, default=10, help="measured seconds per round (default 10)")
    parser.add_argument("--warmup", type=float, default=2, help="unmeasured seconds before each round (default 2)")
    parser.add_argument("--concurrency", type=int, default=8, help="keep-alive connections (default 8)")
    parser.add_argument("--debug", action="store_true", help="run Kassa with DEBUG=true instead of production settings")
    args = parser.parse_args()

    signal.signal(signal.SIGTERM, _interrupt)

    servers: dict[str, Server] = {}
    with tempfile.TemporaryDirectory(prefix="kassa-bench-") as tmpdir:
        tmp = Path(tmpdir)
        try:
            print("setting up databases, migrations, merchant and token ...", flush=True)
            k_env, b_env = kassa_env(tmp, debug=args.debug), baseline_env()
            targets = {
                "kassa": Target("kassa", 0, "/v1/customers", setup_kassa(k_env)),
                "baseline": Target("baseline", 0, "/rows", setup_baseline(b_env)),
            }
            servers["kassa"] = Server("kassa", "kassa.wsgi:application", env=k_env, cwd=REPO, logdir=tmp)
            servers["baseline"] = Server("baseline", "baseline.wsgi:application", env=b_env, cwd=BENCH, logdir=tmp)
            for name, server in servers.items():
                server.wait_ready("/healthz")
                targets[name].port = server.port

            print(
                f"{args.rounds} rounds x {args.seconds:g} s (+{args.warmup:g} s warm-up), "
                f"{args.concurrency} connections, gunicorn {' '.join(GUNICORN_ARGS)}, {os.cpu_count()} CPUs, "
                f"Kassa DEBUG={k_env['DEBUG']}",
                flush=True,
            )
            results: dict[str, list[RoundResult]] = {name: [] for name in targets}
            for round_no in range(1, args.rounds + 1):
                for name, target in targets.items():
                    r = drive(
                        target,
                        servers[name].worker_cpu,
                        concurrency=args.concurrency,
                        warmup=args.warmup,
                        seconds=args.seconds,
                    )
                    results[name].append(r)
                    flag = f"  {r.errors} NON-2XX" if r.errors else ""
                    print(
                        f"  round {round_no} {name:<8} {r.rps:8.1f} req/s  p50 {r.percentile_ms(50):6.2f} ms"
                        f"  p99 {r.percentile_ms(99):7.2f} ms  workers {r.server_cpu_ms:5.2f} ms CPU/req"
                        f"  (load generator: {r.client_cpu / (args.warmup + args.seconds):.0%} of a CPU){flag}",
                        flush=True,
                    )
            print_table(results, targets)
            failed = report_errors(results, servers)
        except KeyboardInterrupt:
            print("\ninterrupted; stopping servers and dropping the bench databases", file=sys.stderr)
            failed = True
        finally:
            for server in servers.values():
                server.stop()
            for name in (KASSA_DB, BASELINE_DB):
                with contextlib.suppress(psycopg.Error):
                    admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
