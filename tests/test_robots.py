"""robots.txt is obeyed for every request, including those queued while it was being fetched."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import scrapy

from tests.crawl_helpers import run_spider

pytestmark = pytest.mark.slow


class UrlsSpider(scrapy.Spider):
    name = "robots_urls"

    def __init__(self, urls: str = "", **kwargs):
        super().__init__(**kwargs)
        self.urls = urls.split(",")

    async def start(self):
        for url in self.urls:
            yield scrapy.Request(url, dont_filter=True)

    def parse(self, response):
        yield {"url": response.url}


class _Handler(BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_GET(self):
        type(self).seen.append(self.path)
        body = b"User-agent: *\nDisallow: /private\n" if self.path == "/robots.txt" else b"ok"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Handler.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_disallowed_url_is_not_fetched_when_it_is_not_the_first(server):
    urls = [f"{server}/a", f"{server}/b", f"{server}/c", f"{server}/private"]
    items = run_spider("tests.test_robots.UrlsSpider", {
        "ROBOTSTXT_OBEY": True,
        "CONCURRENT_REQUESTS": 16,
        "DOWNLOADER_MIDDLEWARES": {
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            "crawler.robots.RobotsTxtMiddleware": 100,
        },
    }, urls=",".join(urls))
    assert sorted(item["url"] for item in items) == urls[:3]
    assert "/private" not in _Handler.seen
    assert items.stats["robotstxt/forbidden"] == 1
