"""Exposure of the web chat, tested over HTTP against the real server: localhost only by
default; with a password, no chat or source content without logging in; no file reads
outside the app's own public folder."""

import json
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

import pytest
from helpers import CHROMIUM, CHROMIUM_FLAGS, need_chromium

from rag.bench import webload

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def locked_server(tmp_path_factory, seed_settings):
    cwd = tmp_path_factory.mktemp("web-locked")
    with webload.serve(seed_settings.index_dir, cwd=cwd, env={"RAG_WEB_PASSWORD": PASSWORD}) as (
        url,
        _,
    ):
        yield url


def _status(url: str, opener=None, data: bytes | None = None) -> tuple[int, str]:
    try:
        with (opener or urllib.request.build_opener()).open(
            urllib.request.Request(url, data=data), timeout=10
        ) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def test_listens_on_localhost_only(locked_server):
    url = locked_server
    port = int(url.rsplit(":", 1)[1])
    listening = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in open(table).read().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                listening.append(local.rsplit(":", 1)[0])
    assert listening and set(listening) <= {"0100007F"}, listening  # 127.0.0.1, not 0.0.0.0


def test_nothing_without_logging_in(locked_server):
    url = locked_server
    status, body = _status(url + "/auth/config")
    assert status == 200 and json.loads(body)["requireLogin"] is True
    for path in ("/user", "/project/settings?language=ko-KR"):
        status, body = _status(url + path)
        assert status == 401, (path, status)
    for path in (
        "/",
        "/project/translations?language=ko-KR",
        "/public/../chainlit.md",
    ):  # public UI shell only
        status, body = _status(url + path)
        assert "전작권" not in body and "하얏트" not in body and "SCM 국방비" not in body, path
    status, _ = _status(url + "/project/threads", data=b"{}")
    assert status in (401, 422)
    status, _ = _status(url + "/project/file/anything?session_id=x")
    assert status == 401


def test_wrong_password_is_refused_and_right_one_logs_in(locked_server):
    url = locked_server
    form = lambda pw: urllib.parse.urlencode({"username": "editor", "password": pw}).encode()  # noqa: E731
    status, _ = _status(url + "/login", data=form("guess"))
    assert status == 401
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    status, _ = _status(url + "/login", opener, form(PASSWORD))
    assert status == 200
    status, body = _status(url + "/user", opener)
    assert status == 200 and json.loads(body)["identifier"] == "editor"


@pytest.mark.parametrize(
    "path",
    [
        "/public/../../../../etc/passwd",
        "/public/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/public/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "/assets/..%2F..%2F..%2Fetc%2Fpasswd",
    ],
)
def test_no_file_outside_the_public_folder(locked_server, path):
    url = locked_server
    status, body = _status(url + path)
    assert "root:x:0:0" not in body and "RAG_WEB_PASSWORD" not in body


def test_browser_sees_a_login_form_then_the_chat(locked_server):
    need_chromium()
    from playwright.sync_api import sync_playwright

    url = locked_server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.goto(url)
        page.wait_for_selector("input[type=password]", timeout=60_000)
        assert page.locator("#chat-input").count() == 0
        page.fill("input[name=email], input#email, input[type=text]", "editor")
        page.fill("input[type=password]", PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_selector("#chat-input", timeout=60_000)
        browser.close()
