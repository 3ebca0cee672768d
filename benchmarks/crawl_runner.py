"""Run one mastodon crawl through the real engine in a child process and measure it.

The child (``python -m benchmarks.crawl_runner SPEC RESULT``) loads the project settings
(``crawler/settings.py``: every middleware, and every item pipeline unless the spec switches
them off), applies the spec's settings at ``cmdline`` priority, crawls, and writes a small
JSON result: crawl seconds (``process.crawl`` to ``spider_closed``, which Scrapy sends after
the pipelines' ``close_spider``, so the last warehouse batch is included), CPU seconds, and
the counters the benchmarks need. No item is kept in memory (unlike tests/crawl_helpers,
which collects every item), and the peak memory is the child's own ``VmHWM`` (read from
``/proc/self/status`` when the crawl is over), not ``ru_maxrss``: Linux carries ``ru_maxrss``
across ``execve``, so a crawler started from a parent holding 500 MB would report 500 MB. CPU
seconds come from ``os.wait4`` (this one child).

The sandbox runs in a process of its own (``SandboxProcess``); its CPU seconds during the
crawl are read from ``/proc/<pid>/stat`` so a table can show which side was busy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, scratch_dir

DEFAULT_TIMEOUT = 3600.0
#: Settings every benchmark crawl shares (both sides of every comparison).
BASE_SETTINGS: dict[str, Any] = {
    "LOG_LEVEL": "WARNING",
    "TELNETCONSOLE_ENABLED": False,
    "REMOTE_CONTROL_ENABLED": False,
    "CONCURRENT_REQUESTS": 16,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
    "DOWNLOAD_DELAY": 0,
    "MICROSCOUT_RATE_LIMIT_MASTODON": 0.0, "MICROSCOUT_RATE_LIMIT_PIXELFED": 0.0,
    "MICROSCOUT_DB_RETRY_DELAY": 0.1,
}
STAT_KEYS = (
    "downloader/request_count", "response_received_count", "item_scraped_count",
    "microscout/mastodon/profiles", "microscout/mastodon/authors_requested",
    "microscout/warehouse/items_loaded", "microscout/warehouse/profiles_upserted",
    "microscout/warehouse/posts_upserted", "microscout/warehouse/sightings_upserted",
    "microscout/warehouse/spooled_items", "microscout/quarantined/total", "finish_reason",
    "retry/count", "log_count/ERROR", "microscout/niche/tagged", "microscout/niche/embedded",
    "microscout/niche/embedding_failed", "microscout/signals/signals",
)


@dataclass
class CrawlMeasure:
    seconds: float            # process.crawl -> spider_closed
    wall: float               # the child process, start-up and imports included
    cpu: float                # crawler CPU seconds (user + system), whole child
    sandbox_cpu: float | None # sandbox CPU seconds during the child's life
    peak_mb: float            # VmHWM of the crawler child (MB)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def profiles(self) -> int:
        return int(self.stats.get("microscout/mastodon/profiles", 0))

    @property
    def requests(self) -> int:
        return int(self.stats.get("downloader/request_count", 0))

    @property
    def items(self) -> int:
        return int(self.stats.get("item_scraped_count", 0))

    @property
    def accounts_per_second(self) -> float:
        return self.profiles / self.seconds if self.seconds else 0.0


class CrawlFailed(RuntimeError):
    pass


# --- what is swept ------------------------------------------------------------------------------

#: Recent posts fetched per account (the spider's default).
RECENT_POSTS = 20


def write_handles(path: Path, accounts: int, seed: int) -> Path:
    """Every account of the sandbox world ``(accounts, seed)``, one handle a line."""
    from crawler.sandbox.world import World

    world = World(accounts, seed)
    path.write_text("".join(f"{world.username(i)}\n" for i in range(accounts)), encoding="utf-8")
    return path


def handles_sweep(base_url: str, handles_file: Path) -> dict[str, Any]:
    """Spider arguments of the handle-list sweep: per account one lookup, one statuses page."""
    return {"instance": base_url, "handles_file": str(handles_file), "recent_posts": RECENT_POSTS}


def tags_sweep(base_url: str, accounts: int, seed: int, max_pages: int = 5) -> dict[str, Any]:
    """Spider arguments of the hashtag sweep: every tag the world uses, ``max_pages`` pages each."""
    from crawler.sandbox.world import World

    tags = sorted(World(accounts, seed).tags())
    return {"instance": base_url, "tags": ",".join(tags), "max_pages": max_pages,
            "max_posts": max_pages * 40, "recent_posts": RECENT_POSTS}


#: Extra Scrapy/microscout settings for every benchmark crawl (both sides), from ``--set``.
EXTRA_SETTINGS: dict[str, Any] = {}


def warehouse_settings(url: str, spool: Path) -> dict[str, Any]:
    return {"MICROSCOUT_DATABASE_URL": url, "MICROSCOUT_SPOOL_DIR": str(spool)}


def parse_set(values: list[str] | None) -> dict[str, Any]:
    """``["NAME=VALUE", ...]`` (``--set``) -> settings; values are read as JSON when they can be."""
    settings = {}
    for value in values or ():
        name, sep, text = value.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--set wants NAME=VALUE, got {value!r}")
        try:
            settings[name.strip()] = json.loads(text)
        except ValueError:
            settings[name.strip()] = text
    return settings


def proc_cpu_seconds(pid: int | None) -> float | None:
    """utime + stime of a live process, from /proc (None when unavailable)."""
    if not pid:
        return None
    try:
        fields_ = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields_[11]) + int(fields_[12])) / os.sysconf("SC_CLK_TCK")


def crawl(spider_kwargs: dict[str, Any], settings: dict[str, Any], *, pipelines: bool = True,
          sandbox_pid: int | None = None, timeout: float = DEFAULT_TIMEOUT,
          profile: Path | None = None) -> CrawlMeasure:
    """One mastodon crawl in a fresh child process; ``pipelines=False`` sets ITEM_PIPELINES={}.

    ``profile``: write a py-spy flame graph of the child there (py-spy must be installed).
    """
    spec_settings = {**BASE_SETTINGS, **EXTRA_SETTINGS, **settings}
    if not pipelines:
        spec_settings["ITEM_PIPELINES"] = {}
    spec = {"spider_kwargs": spider_kwargs, "settings": spec_settings}
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["SCRAPY_SETTINGS_MODULE"] = "crawler.settings"
    with scratch_dir("microscout-crawl-") as tmp:
        spec_path, result_path = tmp / "spec.json", tmp / "result.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        cmd = [sys.executable, "-m", "benchmarks.crawl_runner", str(spec_path), str(result_path)]
        if profile is not None:
            spy = Path(sys.executable).with_name("py-spy")
            cmd = [str(spy), "record", "--nonblocking", "--format", "raw", "-o", str(profile), "--", *cmd]
        log_path = tmp / "crawl.log"
        sandbox_before = proc_cpu_seconds(sandbox_pid)
        started = time.perf_counter()
        with log_path.open("wb") as log:
            child = subprocess.Popen(cmd, cwd=REPO, env=env, stdin=subprocess.DEVNULL,  # noqa: S603
                                     stdout=log, stderr=subprocess.STDOUT)
            deadline = started + timeout
            while True:
                pid, status, usage = os.wait4(child.pid, os.WNOHANG)
                if pid:
                    break
                if time.perf_counter() > deadline:
                    child.kill()
                    child.wait()
                    raise CrawlFailed(f"crawl did not finish in {timeout:g} s")
                time.sleep(0.05)
        wall = time.perf_counter() - started
        sandbox_after = proc_cpu_seconds(sandbox_pid)
        code = os.waitstatus_to_exitcode(status)
        log_text = log_path.read_text(errors="replace")
        if code != 0 or not result_path.exists():
            tail = "\n".join(log_text.splitlines()[-30:])
            raise CrawlFailed(f"crawl failed (exit code {code}):\n{tail}")
        result = json.loads(result_path.read_text(encoding="utf-8"))
    if result.get("error"):
        raise CrawlFailed(f"crawl failed: {result['error']}\n{log_text[-3000:]}")
    stats = result["stats"]
    if stats.get("finish_reason") != "finished":
        raise CrawlFailed(f"crawl ended with {stats.get('finish_reason')!r}\n{log_text[-3000:]}")
    return CrawlMeasure(
        seconds=result["seconds"],
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime if profile is None else result["cpu"],
        sandbox_cpu=(None if sandbox_before is None or sandbox_after is None
                     else sandbox_after - sandbox_before),
        # The crawler's own VmHWM: ru_maxrss would not do, Linux carries it across execve, so a
        # child forked from a big parent reports the parent's size.
        peak_mb=result["vmhwm_kib"] / 1024,
        stats=stats,
    )


def _vmhwm_kib() -> int:
    """Peak resident set size of this process's memory (``VmHWM``, KiB), 0 when unknown."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _child(spec_path: str, result_path: str) -> int:
    import resource

    from scrapy import signals
    from scrapy.crawler import AsyncCrawlerProcess
    from scrapy.utils.project import get_project_settings

    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    settings = get_project_settings()
    settings.setdict(spec["settings"], priority="cmdline")
    process = AsyncCrawlerProcess(settings)
    crawler = process.create_crawler("mastodon")
    times: dict[str, float] = {}
    crawler.signals.connect(lambda **_: times.setdefault("closed", time.perf_counter()),
                            signal=signals.spider_closed, weak=False)
    times["start"] = time.perf_counter()
    task = process.crawl(crawler, **spec["spider_kwargs"])
    process.start()
    error = None
    if not task.done():
        error = "the crawl did not complete"
    elif not task.cancelled() and task.exception() is not None:
        error = f"{type(task.exception()).__name__}: {task.exception()}"
    stats = crawler.stats.get_stats() if crawler.stats else {}
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result = {
        "seconds": times.get("closed", time.perf_counter()) - times["start"],
        "cpu": usage.ru_utime + usage.ru_stime,
        "vmhwm_kib": _vmhwm_kib(),
        "stats": {k: stats[k] for k in STAT_KEYS if k in stats},
        "error": error,
    }
    Path(result_path).write_text(json.dumps(result, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(_child(*sys.argv[1:3]))
