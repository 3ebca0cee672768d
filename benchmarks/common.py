"""What the benchmarks share: the result table, the machine description, throw-away
warehouses (SQLite files, PostgreSQL databases dropped afterwards) and small timing helpers."""

from __future__ import annotations

import contextlib
import os
import platform
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REALWORLD = REPO.parent / "shared" / "realworld"
#: Admin URL of the PostgreSQL service; each benchmark creates and drops its own database.
PG_ADMIN_URL = os.environ.get("MICROSCOUT_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
DATABASES = ("sqlite", "postgresql")


# --- the table ---------------------------------------------------------------------------------

@dataclass
class Row:
    """One line of the result table: microscout's figure next to its baseline's."""

    bench: str                   # "crawl overhead", "warehouse load", ...
    case: str                    # what was measured, e.g. "5,000 accounts, SQLite"
    ours: float | None           # microscout's figure
    base: float | None = None    # the baseline's figure (same unit), if any
    unit: str = ""
    ratio: float | None = None   # as the target reads it (ours/base, base/ours, ...)
    target: str = ""             # e.g. ">= 0.85"
    met: bool | None = None
    note: str = ""

    def cells(self) -> list[str]:
        verdict = {True: "yes", False: "NO", None: ""}[self.met]
        return [self.bench, self.case, fmt(self.ours, self.unit), fmt(self.base, self.unit),
                "" if self.ratio is None else f"{self.ratio:.2f}", self.target, verdict, self.note]


HEADER = ["benchmark", "case", "microscout", "baseline", "ratio", "target", "met", "note"]


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return ""
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".strip()


def check(ratio: float | None, minimum: float | None = None, maximum: float | None = None) -> bool | None:
    if ratio is None:
        return None
    if minimum is not None and ratio < minimum:
        return False
    return not (maximum is not None and ratio > maximum)


def table(rows: list[Row], markdown: bool = False) -> str:
    """The rows as a fixed-width text table, or as a GitHub markdown table."""
    body = [r.cells() for r in rows]
    if markdown:
        lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        lines += ["| " + " | ".join(c.replace("|", "/") for c in cells) + " |" for cells in body]
        return "\n".join(lines)
    widths = [max(len(h), *(len(c[i]) for c in body)) if body else len(h) for i, h in enumerate(HEADER)]
    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
    return "\n".join([line(HEADER), line(["-" * w for w in widths]), *(line(c) for c in body)])


def print_table(title: str, rows: list[Row]) -> None:
    print(f"\n{title}\n{table(rows)}", flush=True)


def say(message: str) -> None:
    """Progress on stderr, so that stdout holds only the tables."""
    print(message, file=sys.stderr, flush=True)


# --- the machine -------------------------------------------------------------------------------

def machine() -> dict[str, str]:
    """nproc, CPU model, RAM, load, Python / SQLite / PostgreSQL / Scrapy / SQLAlchemy versions."""
    info = {"nproc": str(os.cpu_count())}
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["ram"] = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    with contextlib.suppress(OSError):
        info["load"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    info["os"] = f"{platform.system()} {platform.release()}"
    info["python"] = platform.python_version()
    info["sqlite"] = sqlite3.sqlite_version
    with contextlib.suppress(Exception):
        import scrapy
        import sqlalchemy
        info["scrapy"] = scrapy.__version__
        info["sqlalchemy"] = sqlalchemy.__version__
    info["postgresql"] = pg_version() or "not reachable"
    info["commit"] = git_head()
    return info


def git_head() -> str:
    """The repository's HEAD (short), with "+ local changes" when the tree is dirty."""
    import subprocess

    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,  # noqa: S607
                              text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,  # noqa: S607
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head} + local changes" if dirty else head


def pg_version() -> str | None:
    try:
        from sqlalchemy import create_engine, text
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as conn:
                return str(conn.execute(text("SHOW server_version")).scalar())
        finally:
            engine.dispose()
    except Exception:  # any failure means "not available"
        return None


def pg_available() -> bool:
    return pg_version() is not None


# --- throw-away warehouses ----------------------------------------------------------------------

@contextlib.contextmanager
def scratch_dir(prefix: str = "microscout-bench-") -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def pg_database(prefix: str = "microscout_bench") -> Iterator[str]:
    """A new empty PostgreSQL database (URL with the password kept), dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def warehouse(kind: str, directory: Path, name: str, migrate: bool = True) -> Iterator[str]:
    """A migrated (``alembic upgrade head``) warehouse URL of ``kind`` (sqlite or postgresql)."""
    from models import migrate as migrations

    if kind == "sqlite":
        url = f"sqlite:///{directory / (name + '.sqlite')}"
        if migrate:
            migrations.upgrade(url)
        yield url
        return
    if kind != "postgresql":
        raise ValueError(f"unknown database kind {kind!r}")
    with pg_database() as url:
        if migrate:
            migrations.upgrade(url)
        yield url


def db_label(kind: str) -> str:
    return {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(kind, kind)


# --- timing ------------------------------------------------------------------------------------

def median(values: list[float]) -> float:
    return statistics.median(values)


class Timer:
    """``with Timer() as t: ...``; then ``t.seconds`` (wall clock, perf_counter)."""

    def __enter__(self) -> Timer:
        self.started = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.started


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MB (Linux: ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def parse_list(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]
