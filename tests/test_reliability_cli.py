"""Issue #12, the command line: every bad input is one line and exit 2, ``--json`` keeps stdout
JSON alone, and a run locked out by its job still prints its summary.

In-process where nothing crawls (``crawler.cli.main``); a subprocess where a reactor runs or
the environment matters (``crawler/settings.py`` reads it once, at import).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from scrapy import Spider
from scrapy.utils.test import get_crawler

from crawler.commands.common import project_settings
from crawler.parsers import PARSER_MODULES
from crawler.settings_check import (
    CHECKS,
    SettingError,
    check_database_url,
    check_settings,
    mask_password,
)
from tests.conftest import REPO
from tests.test_cli import CRAWL_TIMEOUT, cli, command_env, error_lines

SECRET_URL = "postgresql+psycopg://scout:s3cret@db.example:{port}/x"


def one_error(err: str, *fragments: str) -> str:
    """The one ``microscout: error:`` line of ``err``, holding every fragment."""
    (line,) = error_lines(err)
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in line
    return line


def closed_port() -> int:
    """A local port nothing listens on (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(*argv: object, cwd: Path, env: dict | None = None,
        timeout: float = CRAWL_TIMEOUT) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([sys.executable, "-m", "crawler.cli", *map(str, argv)], cwd=cwd,
                              env={**command_env(), **(env or {})}, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"microscout {' '.join(map(str, argv))} still running after {timeout:g} s")


def migrated(tmp_path: Path) -> str:
    from models import migrate

    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    migrate.upgrade(url)
    return url


# --- settings whose type is known (item 7) ------------------------------------------------------


def test_the_default_settings_pass():
    check_settings(project_settings())


def test_every_typed_microscout_setting_is_checked():
    """A new number or switch in crawler/settings.py needs its row in settings_check.CHECKS."""
    from crawler import settings as defaults

    typed = {name for name, value in vars(defaults).items()
             if name.startswith("MICROSCOUT_") and isinstance(value, (bool, int, float))}
    assert typed <= set(CHECKS), sorted(typed - set(CHECKS))


@pytest.mark.parametrize(("name", "value", "says"), [
    ("MICROSCOUT_BATCH_SIZE", "abc", "whole number"),
    ("MICROSCOUT_BATCH_SIZE", "0", "at least 1"),
    ("MICROSCOUT_DB_RETRIES", "x", "whole number"),
    ("MICROSCOUT_DB_RETRY_DELAY", "-1", "at least 0"),
    ("MICROSCOUT_TIER_SCHEME", "bogus", "unknown tier scheme"),
    ("MICROSCOUT_TIER_SCHEME", "nano=0,micro=lots", "bad tier bound"),
    ("MICROSCOUT_ENGAGEMENT_POSTS", "1.5", "whole number"),
    ("MICROSCOUT_NICHE_MODEL_WEIGHT", "2", "from 0 to 1"),
    ("MICROSCOUT_NICHE_MODEL_WEIGHT", "nan", "from 0 to 1"),
    ("MICROSCOUT_NICHE_MODEL", "/no/such/model.joblib", "names no file"),
    ("MICROSCOUT_TAXONOMY", "/no/such/taxonomy.json", "names no file"),
    ("MICROSCOUT_ROBOTSTXT_OBEY", "maybe", "true or false"),
    ("MICROSCOUT_RATE_LIMIT_INSTAGRAM", "fast", "number"),
    ("MICROSCOUT_MAX_RETRY_AFTER", "inf", "number"),
    ("MICROSCOUT_CASSETTE_RECORD_MODE", "nonee", "none, once, new_episodes, all"),
    ("MICROSCOUT_RUN_LOCK_STALE", "0", "above 0"),
    ("MICROSCOUT_MONITOR_MAX_ERROR_RATIO", "20%", "from 0 to 1"),
    ("MICROSCOUT_LOG_LEVEL", "debug", "DEBUG"),
    ("MICROSCOUT_PROGRESS_INTERVAL", "0", "above 0"),
    ("CONCURRENT_REQUESTS", "many", "whole number"),
    ("DOWNLOAD_TIMEOUT", "soon", "number"),
])
def test_a_bad_setting_is_one_line_naming_it(name, value, says):
    with pytest.raises(SettingError) as excinfo:
        check_settings(project_settings({name: value}))
    message = str(excinfo.value)
    assert "\n" not in message
    assert message.startswith(f"{name}=")
    assert says in message


@pytest.mark.parametrize(("name", "value"), [
    ("MICROSCOUT_BATCH_SIZE", "5"),
    ("MICROSCOUT_DB_RETRIES", "0"),
    ("MICROSCOUT_ROBOTSTXT_OBEY", "false"),
    ("MICROSCOUT_TIER_SCHEME", "industry"),
    ("MICROSCOUT_TIER_SCHEME", "nano=0,micro=5000"),
    ("MICROSCOUT_NICHE_MODEL_WEIGHT", "0.25"),
    ("MICROSCOUT_LOG_LEVEL", "DEBUG"),
    ("MICROSCOUT_RATE_LIMIT_INSTAGRAM", "5"),
    ("MICROSCOUT_DATABASE_URL", "postgresql+psycopg://u:p@127.0.0.1:5432/db"),
])
def test_good_text_values_pass(name, value):
    check_settings(project_settings({name: value}))


def test_a_component_reading_a_bad_setting_names_it():
    from crawler.progress import ProgressLine

    crawler = get_crawler(Spider, {"MICROSCOUT_PROGRESS": "true",
                                   "MICROSCOUT_PROGRESS_INTERVAL": "often"})
    with pytest.raises(SettingError, match=r"^MICROSCOUT_PROGRESS_INTERVAL='often': "):
        ProgressLine.from_crawler(crawler)


# --- database URLs (item 7) ---------------------------------------------------------------------


@pytest.mark.parametrize(("url", "masked"), [
    ("postgresql+psycopg://scout:s3cret@host:5432/db", "postgresql+psycopg://scout:***@host:5432/db"),
    ("postgresql://postgres:S3cret@PW@host/db", "postgresql://postgres:***@host/db"),
    ("postgresql://scout@host/db", "postgresql://scout@host/db"),
    ("sqlite:///data/w.sqlite", "sqlite:///data/w.sqlite"),
    ("scout:s3cret@host:abc", "scout:***@host:abc"),
])
def test_mask_password(url, masked):
    assert mask_password(url) == masked


@pytest.mark.parametrize(("url", "says"), [
    (SECRET_URL.format(port="abc"), "port"),
    (SECRET_URL.format(port="99999"), "port"),
    ("nosuchdb://scout:s3cret@host/x", "unknown database 'nosuchdb'"),
    ("not a url at all", "not a database URL"),
    ("", "empty"),
])
def test_an_unusable_database_url_is_refused_with_the_password_masked(url, says):
    with pytest.raises(SettingError) as excinfo:
        check_database_url(url)
    assert says in str(excinfo.value)
    assert "s3cret" not in str(excinfo.value)


@pytest.mark.parametrize("argv", [
    ["db", "current"], ["db", "upgrade"], ["export", "micro_influencers"],
])
def test_database_commands_refuse_a_non_numeric_port(capsys, argv):
    code, out, err = cli(capsys, *argv, "--database-url", SECRET_URL.format(port="abc"))
    assert code == 2
    assert out == ""
    one_error(err, "port", "scout:***@db.example:abc")
    assert "s3cret" not in err


def test_database_url_from_the_environment_is_checked(tmp_path):
    done = run("db", "current", cwd=tmp_path,
               env={"MICROSCOUT_DATABASE_URL": SECRET_URL.format(port="abc")})
    assert done.returncode == 2, done.stderr
    one_error(done.stderr, "MICROSCOUT_DATABASE_URL", "port")
    assert "s3cret" not in done.stderr + done.stdout


def test_sweep_refuses_a_bad_setting_from_the_environment(tmp_path):
    done = run("sweep", "--instance", f"http://127.0.0.1:{closed_port()}", "--tags", "fitness",
               "--database-url", f"sqlite:///{tmp_path / 'w.sqlite'}", cwd=tmp_path,
               env={"MICROSCOUT_BATCH_SIZE": "abc"})
    assert done.returncode == 2, done.stderr
    one_error(done.stderr, "MICROSCOUT_BATCH_SIZE='abc'")
    assert not (tmp_path / "w.sqlite").exists()  # refused before the warehouse was touched


# --- files that cannot be written (item 7) ------------------------------------------------------


def unwritable_targets(tmp_path: Path) -> dict[str, Path]:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    targets = {"under-a-file": blocker / "out.csv", "a-directory": tmp_path}
    if os.geteuid() != 0:  # root writes into read-only folders
        read_only = tmp_path / "read-only"
        read_only.mkdir()
        read_only.chmod(0o555)
        targets["read-only-folder"] = read_only / "out.csv"
    return targets


@pytest.mark.parametrize("case", ["under-a-file", "a-directory", "read-only-folder"])
def test_export_to_an_unwritable_output(capsys, tmp_path, case):
    targets = unwritable_targets(tmp_path)
    if case not in targets:
        pytest.skip("running as root: a read-only folder is writable")
    url = migrated(tmp_path)
    code, out, err = cli(capsys, "export", "micro_influencers", "--database-url", url,
                         "--output", targets[case])
    assert code == 2
    assert out == ""
    one_error(err, "--output")


def test_export_output_still_written(capsys, tmp_path):
    url = migrated(tmp_path)
    output = tmp_path / "new-folder" / "out.csv"
    code, _out, err = cli(capsys, "export", "micro_influencers", "--database-url", url,
                          "--output", output)
    assert code == 0, err
    assert output.read_text(encoding="utf-8").startswith("profile_id,")


# --- sandbox serve --port (item 7) --------------------------------------------------------------


@pytest.mark.parametrize("port", ["99999", "-1", "65536"])
def test_sandbox_serve_refuses_a_port_out_of_range(capsys, port):
    code, out, err = cli(capsys, "sandbox", "serve", "--port", port)
    assert code == 2
    assert out == ""
    one_error(err, "--port", port)


# --- parse: documents nested too deep, damaged cassettes (item 7) -------------------------------

DEPTH = 100_000


@pytest.mark.parametrize("shape", ["array", "object"])
@pytest.mark.parametrize("platform", sorted(PARSER_MODULES))
def test_parse_json_nested_too_deep(tmp_path, platform, shape):
    page = tmp_path / "deep.json"
    page.write_text("[" * DEPTH + "]" * DEPTH if shape == "array" else '{"a":' * DEPTH + "1" + "}" * DEPTH)
    done = run("parse", platform, page, cwd=tmp_path, timeout=60)  # a hang fails, not waits
    assert done.returncode == 2
    assert done.stdout == ""
    one_error(done.stderr, str(page), "nested")


def test_parse_yaml_nested_too_deep(capsys, tmp_path):
    cassette = tmp_path / "deep.yaml"
    cassette.write_text("interactions:\n- " + "[" * DEPTH + "]" * DEPTH + "\n")
    code, out, err = cli(capsys, "parse", "mastodon", cassette)
    assert code == 2
    assert out == ""
    one_error(err, str(cassette), "nested too deep")


ACCOUNT = {"id": "1", "username": "alice", "acct": "alice", "display_name": "Alice",
           "followers_count": 10, "following_count": 1, "statuses_count": 3,
           "url": "https://mastodon.example/@alice", "note": "", "created_at": "2020-01-01T00:00:00Z"}


def cassette_with(tmp_path: Path, *interactions: dict) -> Path:
    import yaml

    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"interactions": list(interactions), "version": 1}))
    return path


def interaction(body: object, uri: object = "https://mastodon.example/api/v1/accounts/1",
                headers: object = None) -> dict:
    return {"request": {"method": "GET", "uri": uri},
            "response": {"status": {"code": 200, "message": "OK"},
                         "headers": headers if headers is not None else
                         {"Content-Type": ["application/json"]},
                         "body": {"string": body}}}


def test_parse_cassette_skips_a_body_nested_too_deep(capsys, tmp_path):
    deep = interaction("[" * DEPTH + "]" * DEPTH)
    good = interaction(json.dumps(ACCOUNT))
    code, out, err = cli(capsys, "parse", "mastodon", cassette_with(tmp_path, deep, good))
    assert code == 0, err
    (record,) = [json.loads(line) for line in out.splitlines()]
    assert record["handle"] == "alice@mastodon.example"


@pytest.mark.parametrize(("damage", "says"), [
    (interaction(12345), "body string of type int"),
    (interaction(1.5), "body string of type float"),
    (interaction(["a"]), "body string of type list"),
    (interaction(True), "body string of type bool"),
    ({"request": {"uri": "https://x.example/"}, "response": 5}, "not a mapping"),
    ({"request": "GET /", "response": {}}, "not a mapping"),
    ({"request": {}, "response": {"body": "text"}}, "body that is not a mapping"),
    (interaction("{}", headers=["Content-Type"]), "headers"),
    (interaction("{}", uri=42), "uri"),
])
def test_parse_damaged_cassette(capsys, tmp_path, damage, says):
    code, out, err = cli(capsys, "parse", "mastodon", cassette_with(tmp_path, damage))
    assert code == 2
    assert out == ""
    one_error(err, "interaction 1", says)


# --- spider arguments refused up front (item 9) -------------------------------------------------


@pytest.mark.parametrize("value", [
    "not a url", "http://exa mple.com", "http://-x.example", "http://x..example",
    "http://[zz]", "http://127.0.0.1:99999", "http://:80",
])
def test_a_base_url_that_is_not_a_url_is_refused(value):
    from crawler.spiders.args import normalize_base_url

    with pytest.raises(ValueError, match=r"^base_url must be a URL like "):
        normalize_base_url(value)


@pytest.mark.parametrize(("value", "expected"), [
    ("mastodon.social", "https://mastodon.social"),
    ("http://127.0.0.1:8123", "http://127.0.0.1:8123"),
    ("http://[::1]:8123", "http://[::1]:8123"),
    ("https://Social.Example_Host.org/", "https://social.example_host.org"),
    ("localhost:8080", "https://localhost:8080"),
])
def test_base_urls_that_are_urls_pass(value, expected):
    from crawler.spiders.args import normalize_base_url

    assert normalize_base_url(value) == expected


def test_a_base_url_never_carries_a_password():
    from crawler.spiders.args import normalize_base_url

    for value in ("http://scout:s3cret@host.example", "http://scout:s3cret@host.example:99999"):
        with pytest.raises(ValueError, match=r"^base_url must") as excinfo:
            normalize_base_url(value)
        assert "s3cret" not in str(excinfo.value)


def test_a_tag_longer_than_any_platform_allows_is_refused():
    from crawler.spiders.args import MAX_TAG_LENGTH, normalize_tag_arg

    assert normalize_tag_arg("#" + "a" * MAX_TAG_LENGTH) == "a" * MAX_TAG_LENGTH
    with pytest.raises(ValueError, match=r"^tags: .* 5000 characters long; a hashtag has at most 100$"):
        normalize_tag_arg("a" * 5000)


@pytest.mark.parametrize("platform", ["mastodon", "bluesky", "instagram", "tiktok", "youtube"])
def test_every_spider_refuses_a_long_tag_and_a_bad_base_url(platform):
    from crawler.commands.sweep import load_spider
    from crawler.platforms import REGISTRY

    spider = load_spider(REGISTRY[platform].spider)
    with pytest.raises(ValueError, match="characters long"):
        spider(tags="a" * 5000)
    with pytest.raises(ValueError, match="must be a URL like"):
        spider(tags="fitness", base_url="not a url")


def test_refresh_refuses_a_base_url_that_is_not_a_url(capsys):
    code, out, err = cli(capsys, "refresh", "--instance", "not a url")
    assert code == 2
    assert out == ""
    one_error(err, "'not a url'")


# --- --json: stdout holds the JSON alone (items 6 and 11) ---------------------------------------


def test_json_without_quiet_keeps_the_tables_off_stdout(tmp_path):
    done = run("sweep", "--instance", f"http://127.0.0.1:{closed_port()}", "--tags", "food",
               "--database-url", f"sqlite:///{tmp_path / 'w.sqlite'}", "--json",
               "--set", "RETRY_TIMES=0", cwd=tmp_path)
    assert done.returncode == 1, done.stderr  # every page failed
    (summary,) = [json.loads(line) for line in done.stdout.splitlines()]  # JSON alone
    assert summary["status"] == "failed"
    assert "Accounts by tier" in done.stderr  # the tables still show, on stderr


@pytest.mark.parametrize("quiet", [True, False], ids=["quiet", "not-quiet"])
def test_a_run_locked_out_by_its_job_prints_its_skipped_summary(tmp_path, quiet):
    from models import loader, make_engine

    url = migrated(tmp_path)
    engine = make_engine(url)
    try:  # the lock is held by "another run" the test controls: no race
        holder = loader.acquire_run(engine, {"run_key": "held", "spider": "mastodon",
                                             "job": "nightly"}, 3600)
    finally:
        engine.dispose()
    done = run("sweep", "--instance", f"http://127.0.0.1:{closed_port()}", "--tags", "food",
               "--database-url", url, "--job", "nightly", "--json", *(["--quiet"] if quiet else []),
               cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (summary,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert summary["status"] == "skipped"
    assert summary["spider"] == "mastodon"
    assert holder


def test_scrapy_crawl_refuses_a_bad_setting_in_one_line():
    done = subprocess.run([sys.executable, "-m", "scrapy", "crawl", "mastodon", "-a", "tags=x",
                           "-s", "MICROSCOUT_BATCH_SIZE=abc"], cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert "MICROSCOUT_BATCH_SIZE='abc'" in done.stderr
    assert "Traceback" not in done.stderr
