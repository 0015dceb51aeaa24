#!/usr/bin/python3
"""Dashboard tests in a real headless Chromium (Debian's chromium,
chromium-driver and python3-selenium; nothing is downloaded).

Starts the farm with scripts/up on a free loopback port, in a scratch var
dir and a scratch git repository, with no API key anywhere, so the first
run writes var/admin.key. Then, in the browser: a wrong key gets no
session; the admin key signs in; the queue lists a created intent; its
page shows its events; an intent whose fields hold markup renders as
inert text and runs no script; every page holds its layout at 375 px and
1280 px wide; sign-out ends the session. Also keys made, revoked and
rotated with `converge keys` count at once for every family. A screenshot of each page goes
to tests/browser/screenshots/ under the build directory.

Skips (exit 77) only when Chromium is missing and we are not root; as root
(CI) scripts/deps --test installs it, so a missing browser is a failure.
"""
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.abspath(os.environ.get("CV_BUILDDIR", os.getcwd()))
SHOTS = os.path.join(BUILD, "tests", "browser", "screenshots")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

XSS_ID = 'xss-"><img src=x onerror=window.__xss=2>'
XSS_TITLE = '<script>window.__xss=1;alert(1)</script>'
XSS_SOURCE = 'feature/"><img src=x onerror=window.__xss=3>'


def missing_browser():
    why = []
    if not os.access(CHROMIUM, os.X_OK):
        why.append("chromium")
    if not os.access(DRIVER, os.X_OK):
        why.append("chromium-driver")
    try:
        import selenium  # noqa: F401
    except ImportError:
        why.append("python3-selenium")
    return why


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def git(repo, *args):
    subprocess.run(["git", "-C", repo, *args], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_repo(path):
    os.makedirs(path)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Dev")
    git(path, "config", "user.email", "dev@example.invalid")
    with open(os.path.join(path, "Makefile"), "w") as f:
        f.write("lint:\n\t@echo lint ok\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "base")
    git(path, "switch", "-q", "-c", "feature/greeting")
    with open(os.path.join(path, "greet.py"), "w") as f:
        f.write("def greet(name):\n    return 'hello ' + name\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "greet")
    git(path, "switch", "-q", "main")


class Farm:
    def __init__(self, tmp):
        self.tmp = tmp
        self.var = os.path.join(tmp, "var")
        self.repo = os.path.join(tmp, "repo")
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("CONVERGE_")}
        self.env.update({
            "CONVERGE_VAR_DIR": self.var, "CONVERGE_PORT": str(self.port),
            "CONVERGE_HOST": "127.0.0.1", "CONVERGE_BIN_DIR": BUILD,
            "CONVERGE_REPO_PATH": self.repo, "CONVERGE_FCGI_PROCESSES": "1",
            "CONVERGE_RATE_LIMIT_RPM": "2000",
            "CONVERGE_WORKER_POLL_INTERVAL": "3600",
        })

    def up(self):
        make_repo(self.repo)
        r = subprocess.run([os.path.join(SRC, "scripts", "up")], cwd=self.tmp,
                           env=self.env, capture_output=True, text=True,
                           timeout=120)
        self.up_output = r.stdout + r.stderr
        if r.returncode != 0:
            raise AssertionError("scripts/up failed:\n" + self.up_output)
        # The worker's first cycle runs at start; on a loaded machine it
        # could come after the seeding and queue the validated intent.
        beat = os.path.join(self.var, "run", "worker.heartbeat")
        deadline = time.time() + 60
        while not os.path.exists(beat):
            if time.time() > deadline:
                raise AssertionError("the worker never finished a cycle")
            time.sleep(0.05)

    def down(self):
        subprocess.run([os.path.join(SRC, "scripts", "down")], cwd=self.tmp,
                       env=self.env, capture_output=True, timeout=120)

    def api(self, method, path, key, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data,
                                     method=method)
        req.add_header("X-API-Key", key)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()


def quote(s):
    return urllib.parse.quote(s, safe="")


class Browser:
    def __init__(self, profile):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for a in ("--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-quic", "--no-first-run",
                  "--disable-background-networking",
                  "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--user-data-dir=" + profile,
                  "--window-size=1280,900"):
            opts.add_argument(a)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.d = webdriver.Chrome(service=Service(DRIVER), options=opts)
        self.d.set_page_load_timeout(60)

    def width(self, w):
        self.d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": w, "height": 900, "deviceScaleFactor": 1,
            "mobile": w < 600})

    def shot(self, name):
        os.makedirs(SHOTS, exist_ok=True)
        self.d.save_screenshot(os.path.join(SHOTS, name))

    def no_overflow(self, what):
        sw, iw = self.d.execute_script(
            "return [document.documentElement.scrollWidth, "
            "window.innerWidth]")
        assert sw <= iw, "%s: horizontal overflow (scrollWidth %d > " \
            "innerWidth %d)" % (what, sw, iw)

    def no_csp_violation(self, what):
        """The page's own style sheet and script pass its policy: the
        browser reported nothing refused."""
        for e in self.d.get_log("browser"):
            msg = e.get("message", "")
            assert "Content Security Policy" not in msg, \
                "%s: %s" % (what, msg)

    def text(self):
        return self.d.find_element("tag name", "body").text

    def no_alert(self):
        from selenium.common.exceptions import NoAlertPresentException
        try:
            a = self.d.switch_to.alert
            txt = a.text
            a.dismiss()
            raise AssertionError("an alert ran: %r" % txt)
        except NoAlertPresentException:
            pass

    def session_cookie(self):
        for c in self.d.get_cookies():
            if c["name"] == "cv_session" and c["value"]:
                return c
        return None

    def click(self, element):
        """Clicks and waits until the next page replaced this one."""
        from selenium.webdriver.support import expected_conditions as ec
        from selenium.webdriver.support.ui import WebDriverWait
        old = self.d.find_element("tag name", "html")
        element.click()
        WebDriverWait(self.d, 30).until(ec.staleness_of(old))
        WebDriverWait(self.d, 30).until(lambda d: d.execute_script(
            "return document.readyState") == "complete")

    def login(self, base, key):
        """Signs in; a form node that went stale under the driver (seen on
        a loaded machine) means loading the form again, not a failure."""
        from selenium.common.exceptions import WebDriverException
        for attempt in range(3):
            try:
                self.d.get(base + "/ui/login")
                self.d.find_element("name", "api_key").send_keys(key)
                self.click(self.d.find_element(
                    "css selector", "form.login input[type=submit]"))
                return
            except WebDriverException:
                if attempt == 2:
                    raise


def run_cases(cases):
    failed = []
    for name, fn in cases:
        print("[ RUN      ] %s" % name, flush=True)
        try:
            fn()
            print("[       OK ] %s" % name, flush=True)
        except Exception:  # report and go on with the next case
            traceback.print_exc()
            print("[  FAILED  ] %s" % name, flush=True)
            failed.append(name)
    print("[==========] %d test(s) run." % len(cases))
    print("[  PASSED  ] %d test(s)." % (len(cases) - len(failed)))
    if failed:
        print("[  FAILED  ] %d test(s), listed below:" % len(failed))
        for n in failed:
            print("[  FAILED  ] %s" % n)
    return 1 if failed else 0


def main():
    why = missing_browser()
    if why:
        if os.geteuid() != 0:
            print("SKIP: %s not installed (scripts/deps --test installs "
                  "them as root)" % ", ".join(why))
            return 77
        print("FAIL: %s not installed; run scripts/deps --test" %
              ", ".join(why))
        return 1
    if not os.access(os.path.join(BUILD, "fcgi", "converge-ui"), os.X_OK):
        print("FAIL: %s/fcgi/converge-ui is not built" % BUILD)
        return 1
    tmp = tempfile.mkdtemp(prefix="cv-browser-")
    farm = Farm(tmp)
    b = None
    st = {}
    try:
        farm.up()
        b = Browser(os.path.join(tmp, "profile"))

        def first_run_key():
            path = os.path.join(farm.var, "admin.key")
            mode = stat.S_IMODE(os.stat(path).st_mode)
            assert mode == 0o600, "admin.key mode %o" % mode
            st["key"] = open(path).read().strip()
            assert st["key"].startswith("cvk_")
            assert st["key"] not in farm.up_output, "up printed the key"
            assert path in farm.up_output, "up did not print the path"

        def seed():
            k = st["key"]
            s, body = farm.api("POST", "/v1/intents", k, {
                "id": "greet-1", "source": "feature/greeting",
                "target": "main", "risk_level": "low",
                "semantic": {"title": "Greeting"}})
            assert s == 200, (s, body)
            s, body = farm.api("POST", "/v1/intents/greet-1/validate", k,
                               {})
            assert s == 200, (s, body)
            s, body = farm.api("POST", "/v1/intents", k, {
                "id": "queued-2", "source": "feature/greeting",
                "priority": 1})
            assert s == 200, (s, body)
            s, body = farm.api("POST", "/v1/intents", k, {
                "id": XSS_ID, "source": XSS_SOURCE, "risk_level": "high",
                "semantic": {"title": XSS_TITLE,
                             "description": '"><img src=x onerror=alert(2)>'}})
            assert s == 200, (s, body)
            for _ in range(3):
                s, body = farm.api("GET", "/v1/health/repo/now", k)
                assert s == 200, (s, body)

        def wrong_key():
            b.width(1280)
            b.login(farm.base, "cvk_not-a-real-key")
            assert "not accepted" in b.text(), b.text()
            assert b.session_cookie() is None, "a wrong key got a session"
            b.shot("login-refused-1280.png")
            b.d.get(farm.base + "/ui/")
            assert b.d.current_url.endswith("/ui/login"), b.d.current_url

        def login_and_queue():
            b.login(farm.base, st["key"])
            c = b.session_cookie()
            assert c, "no session cookie after a good key"
            assert c.get("httpOnly") is True, c
            assert c.get("sameSite") == "Strict", c
            assert b.d.current_url.endswith("/ui/"), b.d.current_url
            t = b.text()
            assert "greet-1" in t and "queued-2" in t, t
            assert "VALIDATED" in t and "intent.validated" in t, t
            b.no_overflow("queue at 1280")
            b.shot("queue-1280.png")

        def intent_page():
            b.click(b.d.find_element("link text", "greet-1"))
            t = b.text()
            for want in ("intent.created", "intent.validated",
                         "simulation.completed", "risk.evaluated",
                         "check.completed", "lint", "Merges cleanly",
                         "greet.py"):
                assert want in t, "intent page lacks %r" % want
            b.no_overflow("intent at 1280")
            b.shot("intent-1280.png")

        def markup_is_inert():
            b.d.get(farm.base + "/ui/")
            b.no_alert()
            b.d.get(farm.base + "/ui/intents/" + quote(XSS_ID))
            b.no_alert()
            t = b.text()
            assert XSS_ID in t, "the id is not shown as text"
            assert XSS_TITLE in t, "the title is not shown as text"
            flag = b.d.execute_script("return window.__xss === undefined "
                                      "? null : window.__xss")
            assert flag is None, "a script ran: window.__xss = %r" % flag
            imgs = b.d.find_elements("tag name", "img")
            assert not imgs, "markup became an <img> element"
            scripts = b.d.find_elements("tag name", "script")
            assert not scripts, "markup became a <script> element"
            b.shot("intent-markup-1280.png")

        def decisions_and_health():
            b.d.get(farm.base + "/ui/decisions")
            assert "greet-1" in b.text() and "intent.validated" in b.text()
            b.no_overflow("decisions at 1280")
            b.shot("decisions-1280.png")
            b.d.get(farm.base + "/ui/health")
            assert b.d.find_elements("css selector", "svg polyline"), \
                "no trend line"
            b.no_overflow("health at 1280")
            b.shot("health-1280.png")

        def narrow_layout():
            b.width(375)
            pages = [("queue", "/ui/"), ("intent", "/ui/intents/greet-1"),
                     ("intent-markup", "/ui/intents/" + quote(XSS_ID)),
                     ("decisions", "/ui/decisions"), ("health", "/ui/health")]
            for name, path in pages:
                b.d.get(farm.base + path)
                b.no_overflow(name + " at 375")
                b.no_csp_violation(name)
                bg = b.d.execute_script(
                    "return getComputedStyle(document.body).backgroundColor")
                assert bg == "rgb(244, 246, 249)", \
                    "%s: the style sheet did not apply (%s)" % (name, bg)
                b.shot(name + "-375.png")
            b.width(1280)

        def logout():
            b.d.get(farm.base + "/ui/")
            b.click(b.d.find_element("css selector",
                                     "form[action='/ui/logout'] button"))
            assert b.d.current_url.endswith("/ui/login"), b.d.current_url
            b.d.get(farm.base + "/ui/")
            assert b.d.current_url.endswith("/ui/login"), \
                "the session outlived sign-out"
            b.width(375)
            b.no_overflow("login at 375")
            b.shot("login-375.png")

        def cli(*args):
            r = subprocess.run([os.path.join(BUILD, "worker", "converge"),
                                *args], cwd=farm.tmp, env=farm.env,
                               capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, (args, r.stdout, r.stderr)
            return json.loads(r.stdout)

        def keys_take_effect_at_once():
            # The CLI run where the farm runs finds the farm's database;
            # every family sees a change from the next request on.
            paths = ("/v1/intents", "/v1/queue/state", "/v1/events")
            k = cli("keys", "create", "--role", "viewer", "--actor", "vic")
            for p in paths:
                assert farm.api("GET", p, k["key"])[0] == 200, p
            cli("keys", "revoke", k["id"])
            for p in paths:
                assert farm.api("GET", p, k["key"])[0] == 401, p
            k = cli("keys", "create", "--role", "viewer", "--actor", "rot")
            n = cli("keys", "rotate", k["id"], "--grace-seconds", "0")
            for p in paths:
                assert farm.api("GET", p, k["key"])[0] == 401, p
                assert farm.api("GET", p, n["key"])[0] == 200, p
            listed = json.dumps(cli("keys", "list"))
            assert n["key"] not in listed and n["id"] in listed

        return run_cases([
            ("first_run_key", first_run_key), ("seed", seed),
            ("wrong_key", wrong_key), ("login_and_queue", login_and_queue),
            ("intent_page", intent_page), ("markup_is_inert", markup_is_inert),
            ("decisions_and_health", decisions_and_health),
            ("narrow_layout", narrow_layout), ("logout", logout),
            ("keys_take_effect_at_once", keys_take_effect_at_once)])
    except Exception:
        traceback.print_exc()
        print("[  FAILED  ] 1 test(s), listed below:\n[  FAILED  ] setup")
        return 1
    finally:
        if b:
            b.d.quit()
        farm.down()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
