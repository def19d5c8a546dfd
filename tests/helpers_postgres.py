"""A throwaway PostgreSQL cluster for tests and benchmarks: ``initdb`` into a temporary folder, ``pg_ctl start``.

The cluster runs as the unprivileged ``postgres`` user when this process is root (PostgreSQL refuses to run
as root), else as this user; it listens on a free loopback port only, with ``trust`` authentication for
loopback (nothing else can reach it), and is stopped and deleted by :meth:`Cluster.stop`.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path


def postgres_bin() -> Path | None:
    """The folder of ``initdb`` / ``pg_ctl`` (on PATH, else Debian's /usr/lib/postgresql/*/bin), or None."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(folder, "initdb").exists() and Path(folder, "pg_ctl").exists():
            return Path(folder)
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Cluster:
    """A running throwaway cluster; :meth:`url` makes a new empty database and returns its URL.

    Args:
        bin_dir: the folder of ``initdb`` and ``pg_ctl``.
        fsync: flush commits to the disk (PostgreSQL's default; benchmarks), else not (tests: faster).
    """

    def __init__(self, bin_dir: Path, fsync: bool = False):
        self.bin, self.fsync = bin_dir, fsync
        self.folder = Path(tempfile.mkdtemp(prefix="facerec-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.user = None
        if os.geteuid() == 0:
            self.user = pwd.getpwnam("postgres")
            os.chown(self.folder, self.user.pw_uid, self.user.pw_gid)
        os.chmod(self.folder, 0o700)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-locale", "--no-sync")
        self.start()

    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess:
        command = [str(self.bin / tool), *args]
        if self.user is not None:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        """Start (or restart after :meth:`kill`) the server on its port, sockets in its own folder."""
        options = f"-h 127.0.0.1 -p {self.port} -k {self.folder}"
        if not self.fsync:  # tests: nothing to keep after a crash, so no flush to the disk
            options += " -c fsync=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"), "-w", "start")

    def kill(self) -> None:
        """Stop the server at once (``immediate``: like a crash; clients lose their connections)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.folder, ignore_errors=True)

    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, name: str | None = None) -> str:
        """A new empty database's URL (``name``, default a random one)."""
        import psycopg

        name = name or f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"


def skip_unless_required(reason: str) -> None:
    """Skip a PostgreSQL test with ``reason``, or fail it where ``$FACEREC_REQUIRE_POSTGRES`` is set (``.ci/run``
    sets it: CI installs PostgreSQL, so a missing one there is a broken setup, not a reason to skip)."""
    import os

    import pytest

    if os.environ.get("FACEREC_REQUIRE_POSTGRES"):
        pytest.fail(f"PostgreSQL is required here ($FACEREC_REQUIRE_POSTGRES) but: {reason}")
    pytest.skip(reason)


def start_cluster() -> tuple[Cluster | None, str]:
    """``(cluster, "")``, or ``(None, why not)`` when PostgreSQL or psycopg is not installed."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return None, "psycopg is not installed (pip install -r requirements.txt)"
    bin_dir = postgres_bin()
    if bin_dir is None:
        return None, "PostgreSQL is not installed (apt-get install postgresql; .ci/run installs it)"
    return Cluster(bin_dir), ""
