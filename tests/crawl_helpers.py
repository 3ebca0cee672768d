"""Run a real Scrapy crawl in a fresh subprocess and collect what it scraped.

Twisted's reactor can be started only once per process, so end-to-end tests cannot run
one crawl after another inside pytest. :func:`run_spider` runs each crawl in a new Python
process (``python -m tests.crawl_helpers SPEC RESULT``), through the real engine
(``AsyncCrawlerProcess``, asyncio reactor, every middleware and pipeline the settings
enable), and returns the items the crawl scraped (collected with ``signals.item_scraped``)
together with its final stats and log::

    from crawler.cassette import cassette_settings
    from tests.crawl_helpers import run_spider

    items = run_spider(
        "crawler.spiders.mastodon.MastodonSpider",
        {**cassette_settings(CASSETTES / "mastodon.yaml"), "ITEM_PIPELINES": {}},
        use_project_settings=True,
        instance="mastodon.social",
    )
    assert items[0]["username"] == "..."
    assert items.stats["downloader/response_status_count/200"] == 3

Notes:

* Settings, spider arguments, items and stats cross the process boundary as JSON (through
  temporary files, so spider ``print`` output cannot corrupt them). Settings must be
  JSON-serialisable: refer to classes by import path, as Scrapy settings do anyway. Items
  are turned into dicts with ``ItemAdapter``; values JSON cannot hold (datetimes,
  decimals) come back as ``str``. Stats values likewise (``start_time`` is a string).
* ``use_project_settings=False`` (the default) starts from Scrapy's defaults, so a test
  sees exactly the settings it passes; ``True`` starts from ``crawler/settings.py``
  (including ``ITEM_PIPELINES``, ``ROBOTSTXT_OBEY``, the ``MICROSCOUT_*`` environment).
* :data:`HERMETIC_DEFAULTS` switch off the telnet console and Scrapy 2.19's RemoteControl
  HTTP server unless the project or the test turns them on.
* The child runs with the repository as working directory and on ``sys.path``, so spiders
  defined in test modules (``tests.test_cassette.UrlsSpider``) can be crawled.
* A crawl that does not finish within ``crawl_timeout`` seconds is killed and
  :class:`CrawlError` is raised, as it is when the child fails; the error carries the log.
* ``crawl_timeout`` and ``use_project_settings`` are keyword-only and so cannot be spider
  arguments; everything else in ``**spider_kwargs`` is passed to the spider (``-a``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CRAWL_TIMEOUT = 120.0
#: Replace Scrapy's defaults (not project or test settings) in every test crawl: no telnet
#: console, and no RemoteControl extension (Scrapy 2.19 enables by default an HTTP server
#: that runs posted Python code, and writes a job file to the user's profile directory).
HERMETIC_DEFAULTS: dict[str, Any] = {"TELNETCONSOLE_ENABLED": False, "REMOTE_CONTROL_ENABLED": False}


class CrawlError(RuntimeError):
    """The crawl subprocess failed, timed out or produced no result."""

    def __init__(self, message: str, log: str = "") -> None:
        tail = "\n".join(log.splitlines()[-40:])
        super().__init__(f"{message}\n--- crawl log (last 40 lines) ---\n{tail}" if tail else message)
        self.log = log


class CrawlResult(list):  # type: ignore[type-arg]  # a list[dict] of scraped items
    """The scraped items, in the order they were scraped, plus the crawl's outcome.

    Attributes: ``stats`` (the final stats dict), ``log`` (the crawl's stderr: Scrapy's
    log), ``duration`` (wall-clock seconds, process start-up included).
    """

    def __init__(self, items: list[dict[str, Any]], stats: dict[str, Any], log: str, duration: float):
        super().__init__(items)
        self.stats = stats
        self.log = log
        self.duration = duration


def run_spider(
    spider_cls_path: str,
    settings: dict[str, Any] | None = None,
    *,
    use_project_settings: bool = False,
    crawl_timeout: float = DEFAULT_CRAWL_TIMEOUT,
    **spider_kwargs: Any,
) -> CrawlResult:
    """Crawl with the spider at *spider_cls_path* in a new process; return its items.

    *spider_cls_path* is a dotted path (``tests.test_cassette.UrlsSpider``) or, with
    ``use_project_settings=True``, a spider name known to the project's spider loader.
    *settings* override the base settings at ``cmdline`` priority (like ``-s``).
    """
    spec = {
        "spider": spider_cls_path,
        "settings": settings or {},
        "spider_kwargs": spider_kwargs,
        "use_project_settings": use_project_settings,
    }
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    if use_project_settings:
        env["SCRAPY_SETTINGS_MODULE"] = "crawler.settings"
    else:
        env.pop("SCRAPY_SETTINGS_MODULE", None)
    with tempfile.TemporaryDirectory(prefix="microscout-crawl-") as tmp:
        spec_path, result_path = Path(tmp, "spec.json"), Path(tmp, "result.json")
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        started = time.monotonic()
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "tests.crawl_helpers", str(spec_path), str(result_path)],
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=crawl_timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            log = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else exc.stderr or ""
            raise CrawlError(f"crawl of {spider_cls_path} did not finish in {crawl_timeout}s", log) from None
        duration = time.monotonic() - started
        log = proc.stderr
        if proc.returncode != 0 or not result_path.exists():
            raise CrawlError(f"crawl of {spider_cls_path} failed (exit code {proc.returncode})", log)
        result = json.loads(result_path.read_text(encoding="utf-8"))
    if result.get("error"):
        raise CrawlError(f"crawl of {spider_cls_path} failed: {result['error']}", log)
    return CrawlResult(result["items"], result["stats"], log, duration)


def _crawl(spec_path: str, result_path: str) -> int:
    """The child process: run one crawl as *spec_path* says, write the result as JSON."""
    from itemadapter import ItemAdapter
    from scrapy import signals
    from scrapy.crawler import AsyncCrawlerProcess
    from scrapy.settings import Settings
    from scrapy.utils.misc import load_object
    from scrapy.utils.project import get_project_settings

    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    settings = get_project_settings() if spec["use_project_settings"] else Settings()
    settings.setdict(HERMETIC_DEFAULTS, priority="default")
    settings.setdict(spec["settings"], priority="cmdline")
    process = AsyncCrawlerProcess(settings)
    spider = spec["spider"]
    crawler = process.create_crawler(load_object(spider) if "." in spider else spider)

    items: list[dict[str, Any]] = []

    def collect(item: Any) -> None:
        items.append(ItemAdapter(item).asdict())

    crawler.signals.connect(collect, signal=signals.item_scraped, weak=False)
    task = process.crawl(crawler, **spec["spider_kwargs"])
    process.start()

    error = None
    if not task.done():
        error = "the crawl did not complete"
    elif not task.cancelled() and task.exception() is not None:
        error = f"{type(task.exception()).__name__}: {task.exception()}"
    stats = crawler.stats.get_stats() if crawler.stats else {}
    result = {"items": items, "stats": stats, "error": error}
    Path(result_path).write_text(json.dumps(result, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(_crawl(*sys.argv[1:3]))
