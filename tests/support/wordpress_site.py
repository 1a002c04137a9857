"""A real WordPress site for tests: Debian's ``wordpress`` package served by ``php -S`` on loopback.

``wordpress_site(workdir)`` gives each run a site of its own, touching no system-wide file:

* a MariaDB database of its own (``wp_<random>``) on the test server (``CONTENTHUB_TEST_MYSQL``,
  as in ``tests/conftest.py``), dropped on exit;
* a document root under ``workdir`` made of symlinks to ``/usr/share/wordpress`` plus its own
  ``wp-config.php`` and ``wp-content/`` (uploads land there; themes link to the package's).
  Debian's own ``/usr/share/wordpress/wp-config.php`` would pick
  ``/etc/wordpress/config-<host>.php`` by the Host header, one file shared by every run on
  127.0.0.1; we never let it load. PHP resolves symlinks in ``__DIR__``, so ``wp-load.php``
  would find ABSPATH = /usr/share/wordpress/; the router (and the install script) define
  ABSPATH as our document root first, and ``wp-load.php`` then requires *our* ``wp-config.php``;
* the site installed by a PHP script (``wp_install()``; Debian has no wp-cli package): an
  administrator, pretty permalinks (``/%postname%/``, so ``/wp-json/`` works) and an application
  password (``WP_Application_Passwords::create_new_application_password``);
* ``php -S 127.0.0.1:<free port> -t <docroot> <router>`` with ``WP_ENVIRONMENT_TYPE=local`` (so
  application passwords work over plain HTTP); the router does what WordPress's ``.htaccess``
  rewrite does under Apache. Started, then polled until the REST API answers the application
  password; killed by its PID on exit.

The site is cut off from the outside: ``WP_HTTP_BLOCK_EXTERNAL`` (WordPress's HTTP client only
reaches this host), no WP-Cron, no update checks.

Packages: ``scripts/install-test-deps``. A missing piece (no PHP, no package, no MariaDB) raises
``WordPressUnavailable``, which a test turns into a failure in CI and a skip elsewhere.
"""

from __future__ import annotations

import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pymysql
from sqlalchemy.engine import make_url

from contenthub.platforms import outbound

WORDPRESS_ROOT = Path("/usr/share/wordpress")
MYSQL_ADMIN = os.environ.get("CONTENTHUB_TEST_MYSQL", "mysql+pymysql://root@127.0.0.1:3306/test")
PHP = shutil.which("php") or "/usr/bin/php"
INSTALL_HINT = "run scripts/install-test-deps (Debian packages wordpress, php-cli, php-mysql)"
STARTUP_TIMEOUT_SECONDS = 30.0
TABLE_PREFIX = "wp_"

# --- the PHP we write into the run's folder ------------------------------------------------------

WP_CONFIG = """<?php
// Written by tests/support/wordpress_site.py for one test run; not Debian's master config.
define('DB_NAME', {db_name});
define('DB_USER', {db_user});
define('DB_PASSWORD', {db_password});
define('DB_HOST', {db_host});
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
{salts}
$table_prefix = {table_prefix};
define('WP_HOME', {base_url});
define('WP_SITEURL', {base_url});
define('WP_CONTENT_DIR', {content_dir});
define('WP_CONTENT_URL', {content_url});
define('DISABLE_WP_CRON', true);
define('WP_HTTP_BLOCK_EXTERNAL', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_AUTO_UPDATE_CORE', false);
define('FS_METHOD', 'direct');
define('WP_DEBUG', false);
if (!defined('ABSPATH')) {{
    define('ABSPATH', {docroot});
}}
require_once ABSPATH . 'wp-settings.php';
"""

# Under Apache, WordPress's .htaccess sends every path that is not a file to index.php. Here the
# router does that, and runs every PHP script itself with ABSPATH set to our document root, so
# that wp-load.php (a symlink into /usr/share/wordpress) loads our wp-config.php.
ROUTER = r"""<?php
$root = rtrim($_SERVER['DOCUMENT_ROOT'], '/');
$path = rawurldecode(parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH) ?? '/');
if (strpos($path, '..') !== false) {
    http_response_code(400);
    return true;
}
$target = $root . $path;
if (is_dir($target)) {
    $target = rtrim($target, '/') . '/index.php';
    $path = rtrim($path, '/') . '/index.php';
}
if (!is_file($target)) {
    $target = $root . '/index.php';
    $path = '/index.php';
} elseif (substr($target, -4) !== '.php') {
    return false;  // a static file (theme CSS, an upload): the built-in server sends it
}
define('ABSPATH', $root . '/');
$_SERVER['SCRIPT_FILENAME'] = $target;
$_SERVER['SCRIPT_NAME'] = $path;
$_SERVER['PHP_SELF'] = $path;
chdir(dirname($target));
require $target;
"""

INSTALL = r"""<?php
// php install.php <settings.json> <result.json>: install the site and make an app password.
$cfg = json_decode(file_get_contents($argv[1]), true);
define('ABSPATH', $cfg['docroot'] . '/');
define('WP_INSTALLING', true);
$_SERVER['HTTP_HOST'] = $cfg['host'];
$_SERVER['SERVER_NAME'] = '127.0.0.1';
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['SERVER_PROTOCOL'] = 'HTTP/1.1';
function wp_mail() { return true; }  // pluggable: no mail from this test site
require ABSPATH . 'wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
// wp_install() probes the (not yet served) site over HTTP for pretty permalinks; no HTTP here.
add_filter('pre_http_request', function () {
    return new WP_Error('offline', 'no HTTP while installing');
});
if (is_blog_installed()) {
    fwrite(STDERR, "the database already holds a WordPress site\n");
    exit(1);
}
$installed = wp_install($cfg['title'], $cfg['username'], $cfg['email'], true, '',
    wp_slash($cfg['password']));
if (is_wp_error($installed) || empty($installed['user_id'])) {
    fwrite(STDERR, "wp_install failed\n");
    exit(1);
}
global $wp_rewrite;
$wp_rewrite->set_permalink_structure('/%postname%/');
$wp_rewrite->flush_rules(false);
$made = WP_Application_Passwords::create_new_application_password(
    $installed['user_id'], array('name' => 'contenthub tests'));
if (is_wp_error($made)) {
    fwrite(STDERR, 'application password: ' . $made->get_error_message() . "\n");
    exit(1);
}
file_put_contents($argv[2], json_encode(array(
    'user_id' => $installed['user_id'],
    'app_password' => $made[0],
    'version' => get_bloginfo('version'),
)));
"""


class WordPressUnavailable(RuntimeError):
    """A piece the site needs is missing from this machine (a package, MariaDB)."""


@dataclass
class WordPressSite:
    base_url: str
    username: str
    password: str
    app_password: str
    version: str
    docroot: Path
    database: str
    pid: int
    startup_seconds: float
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def api(self) -> str:
        return f"{self.base_url}/wp-json/wp/v2"

    @property
    def options(self) -> dict[str, Any]:
        """An account's options for our WordPress adapter."""
        return {"base_url": self.base_url}

    @property
    def credentials(self) -> dict[str, str]:
        """An account's credentials for our WordPress adapter."""
        return {"username": self.username, "app_password": self.app_password}

    def client(self, **kwargs: Any) -> httpx.Client:
        """An HTTP client logged in with the application password (Basic auth)."""
        return httpx.Client(
            auth=(self.username, self.app_password), timeout=30, trust_env=False, **kwargs
        )

    def rest(self, method: str, route: str, **kwargs: Any) -> httpx.Response:
        """One authenticated request to ``/wp-json/wp/v2{route}``."""
        with self.client() as client:
            return client.request(method, f"{self.api}{route}", **kwargs)

    def get(self, route: str, **params: Any) -> Any:
        """GET ``/wp-json/wp/v2{route}`` as the administrator, in the ``edit`` context (raw
        fields too), and the decoded JSON; any answer but 200 fails with WordPress's message."""
        response = self.rest("GET", route, params={"context": "edit", **params})
        if response.status_code != 200:
            raise AssertionError(f"GET {route}: HTTP {response.status_code}: {response.text[:500]}")
        return response.json()

    def post(self, post_id: int | str) -> dict[str, Any]:
        return self.get(f"/posts/{post_id}")

    def posts(self, **params: Any) -> list[dict[str, Any]]:
        return self.get("/posts", **params)

    def media(self, media_id: int | str | None = None, **params: Any) -> Any:
        return self.get(f"/media/{media_id}") if media_id else self.get("/media", **params)

    def tags(self, ids: list[int] | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"per_page": 100}
        if ids is not None:
            params["include"] = ",".join(str(i) for i in ids) or "0"
        return self.get("/tags", **params)

    def public_page(self, url: str) -> httpx.Response:
        """GET a page as a visitor: no credentials, redirects followed."""
        with httpx.Client(timeout=30, trust_env=False, follow_redirects=True) as client:
            return client.get(url)


# --- the pieces ------------------------------------------------------------------------------


def check_prerequisites() -> None:
    """Raise WordPressUnavailable naming what is missing."""
    if not Path(PHP).is_file():
        raise WordPressUnavailable(f"php is not installed; {INSTALL_HINT}")
    if not (WORDPRESS_ROOT / "wp-settings.php").is_file():
        raise WordPressUnavailable(f"{WORDPRESS_ROOT} is missing; {INSTALL_HINT}")
    modules = subprocess.run(
        [PHP, "-m"], capture_output=True, text=True, timeout=30, check=False
    ).stdout.split()
    if "mysqli" not in modules:
        raise WordPressUnavailable(f"PHP has no mysqli extension; {INSTALL_HINT}")


class _Database:
    def __init__(self) -> None:
        url = make_url(MYSQL_ADMIN)
        self.host = url.host or "127.0.0.1"
        self.port = url.port or 3306
        self.user = url.username or "root"
        self.password = url.password or ""
        self.name = f"wp_{secrets.token_hex(6)}"

    def _admin(self, statement: str) -> None:
        conn = pymysql.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            connect_timeout=10,
            autocommit=True,
        )
        try:
            with conn.cursor() as cursor:
                cursor.execute(statement)
        finally:
            conn.close()

    def create(self) -> None:
        try:
            self._admin(
                f"CREATE DATABASE `{self.name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
        except pymysql.err.OperationalError as error:
            raise WordPressUnavailable(
                f"MariaDB at {self.host}:{self.port} unavailable: {error}"
            ) from None

    def drop(self) -> None:
        self._admin(f"DROP DATABASE IF EXISTS `{self.name}`")


def _php(value: str) -> str:
    """A PHP single-quoted string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _make_docroot(docroot: Path) -> None:
    """Symlinks to the package's files, except the config and wp-content, which are ours."""
    docroot.mkdir(parents=True)
    for entry in WORDPRESS_ROOT.iterdir():
        if entry.name in {"wp-config.php", "wp-content", ".htaccess"}:
            continue
        (docroot / entry.name).symlink_to(entry)
    content = docroot / "wp-content"
    (content / "plugins").mkdir(parents=True)  # none: no Akismet calling home
    (content / "uploads").mkdir()
    (content / "themes").symlink_to(WORDPRESS_ROOT / "wp-content" / "themes")


def _write_config(docroot: Path, db: _Database, base_url: str) -> None:
    salts = "\n".join(
        f"define('{name}', '{secrets.token_hex(32)}');"
        for name in (
            "AUTH_KEY",
            "SECURE_AUTH_KEY",
            "LOGGED_IN_KEY",
            "NONCE_KEY",
            "AUTH_SALT",
            "SECURE_AUTH_SALT",
            "LOGGED_IN_SALT",
            "NONCE_SALT",
        )
    )
    (docroot / "wp-config.php").write_text(
        WP_CONFIG.format(
            db_name=_php(db.name),
            db_user=_php(db.user),
            db_password=_php(db.password),
            db_host=_php(f"{db.host}:{db.port}"),
            salts=salts,
            table_prefix=_php(TABLE_PREFIX),
            base_url=_php(base_url),
            content_dir=_php(str(docroot / "wp-content")),
            content_url=_php(f"{base_url}/wp-content"),
            docroot=_php(f"{docroot}/"),
        )
    )


def _php_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["WP_ENVIRONMENT_TYPE"] = "local"  # application passwords over plain HTTP
    return env


def _install(run_dir: Path, docroot: Path, port: int, username: str, password: str) -> dict:
    settings = run_dir / "install.json"
    result = run_dir / "install-result.json"
    script = run_dir / "install.php"
    script.write_text(INSTALL)
    settings.write_text(
        json.dumps(
            {
                "docroot": str(docroot),
                "host": f"127.0.0.1:{port}",
                "title": "contenthub test site",
                "username": username,
                "password": password,
                "email": f"{username}@example.com",
            }
        )
    )
    done = subprocess.run(
        [PHP, "-d", "display_errors=stderr", str(script), str(settings), str(result)],
        capture_output=True,
        text=True,
        env=_php_env(),
        timeout=120,
        check=False,
    )
    if done.returncode != 0 or not result.exists():
        output = (done.stderr + done.stdout).strip()[-2000:]
        raise RuntimeError(f"installing WordPress failed (exit {done.returncode}): {output}")
    return json.loads(result.read_text())


def _die_with_parent() -> None:
    """In the child before exec: the kernel sends SIGTERM when the test process dies, so a
    killed pytest leaves no PHP server behind."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _start_server(docroot: Path, router: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    command = [
        PHP,
        "-d",
        "display_errors=stderr",  # PHP's notices go to the log, never into a JSON answer
        "-d",
        "post_max_size=64M",
        "-d",
        "upload_max_filesize=64M",
        "-S",
        f"127.0.0.1:{port}",
        "-t",
        str(docroot),
        str(router),
    ]
    with log.open("ab") as handle:
        return subprocess.Popen(
            command,
            cwd=docroot,
            env=_php_env(),
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=handle,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _wait_ready(
    proc: subprocess.Popen[bytes], base_url: str, username: str, app_password: str, log: Path
) -> bool:
    """Poll until the REST API answers the application password. False: the server exited
    (its port was taken meanwhile); raises when it stays up but never answers right."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    last = "no answer yet"
    with httpx.Client(timeout=5, trust_env=False, auth=(username, app_password)) as client:
        while True:
            if proc.poll() is not None:
                return False
            try:
                response = client.get(f"{base_url}/wp-json/wp/v2/users/me?context=edit")
                if response.status_code == 200 and response.json().get("slug") == username:
                    return True
                last = f"HTTP {response.status_code}: {response.text[:300]}"
                if response.status_code in (401, 403, 404):
                    break  # WordPress answers, wrongly: waiting will not help
            except (httpx.TransportError, ValueError) as error:
                last = f"{type(error).__name__}: {error}"
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
    tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
    raise RuntimeError(
        f"WordPress at {base_url} did not answer its REST API with the application password "
        f"within {STARTUP_TIMEOUT_SECONDS:.0f} s; last answer: {last}\nserver log:\n{tail}"
    )


@contextmanager
def wordpress_site(workdir: Path, *, username: str = "contenthub") -> Iterator[WordPressSite]:
    """A freshly installed WordPress served on loopback; everything is removed on exit (the
    server log ``workdir/php-server.log`` stays, for a failed run's post-mortem)."""
    started = time.monotonic()
    timings: dict[str, float] = {}

    def lap(name: str) -> None:
        timings[name] = round(time.monotonic() - started - sum(timings.values()), 3)

    check_prerequisites()
    workdir.mkdir(parents=True, exist_ok=True)
    run_dir = workdir / "wordpress"
    docroot = run_dir / "docroot"
    log = workdir / "php-server.log"
    db = _Database()
    db.create()
    proc: subprocess.Popen[bytes] | None = None
    try:
        _make_docroot(docroot)
        router = run_dir / "router.php"
        router.write_text(ROUTER)
        password = secrets.token_urlsafe(18)
        port = _free_port()
        base_url = f"http://127.0.0.1:{port}"
        _write_config(docroot, db, base_url)
        lap("prepare")
        installed = _install(run_dir, docroot, port, username, password)
        lap("install")
        for _ in range(5):
            proc = _start_server(docroot, router, port, log)
            if _wait_ready(proc, base_url, username, installed["app_password"], log):
                break
            # The port was taken between choosing and binding it: another one. The home URL
            # lives in the config (WP_HOME), so a new port needs only a new config.
            proc = None
            port = _free_port()
            base_url = f"http://127.0.0.1:{port}"
            _write_config(docroot, db, base_url)
        else:
            raise RuntimeError(f"php -S could not serve on a free port; see {log}")
        lap("serve")
        # A WordPress on loopback is what CONTENTHUB_OUTBOUND_ALLOW is for: allow this one.
        with outbound.allowing(f"127.0.0.1:{port}"):
            yield WordPressSite(
                base_url=base_url,
                username=username,
                password=password,
                app_password=installed["app_password"],
                version=installed["version"],
                docroot=docroot,
                database=db.name,
                pid=proc.pid,
                startup_seconds=round(time.monotonic() - started, 3),
                timings=timings,
            )
    finally:
        if proc is not None:
            _stop(proc)
        db.drop()
        shutil.rmtree(run_dir, ignore_errors=True)


# --- content to publish: a PNG and a loopback server for it ----------------------------------


def png_bytes(
    width: int = 24, height: int = 16, rgb: tuple[int, int, int] = (200, 60, 30)
) -> bytes:
    """A valid solid-colour RGB PNG, made without any imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width  # filter byte 0, then the pixels
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


@dataclass
class FileServer:
    url: str
    hits: dict[str, int]


@contextmanager
def serve_files(files: dict[str, tuple[bytes, str]]) -> Iterator[FileServer]:
    """Serve ``{"/path": (body, content_type)}`` on a loopback port, counting the GETs."""
    hits: dict[str, int] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            hits[path] = hits.get(path, 0) + 1
            if path not in files:
                self.send_error(404)
                return
            body, content_type = files[path]
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    try:
        with outbound.allowing(f"127.0.0.1:{port}"):  # the images' host, as an admin would
            yield FileServer(url=f"http://127.0.0.1:{port}", hits=hits)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
