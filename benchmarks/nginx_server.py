"""nginx as the server that costs nothing: ``200 {}`` to every request, from a C server in its own processes.

``fast_server.py`` is Python on asyncio: cheap, but it shares the machine's two cores with the client measured.
nginx answers from C, so what a client spends per call is all its own. Used by ``benchmarks.run``'s ``nginx``
section; the section is skipped when nginx is not installed.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

from benchmarks.common import free_port, wait_for_port

#: Where nginx is looked for when it is not on PATH (Debian puts it in /usr/sbin).
NGINX_PLACES = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")

#: Every location answers what the retry call answers (``200 {}``, JSON); no log, keep-alive without end.
CONFIG = """\
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_requests 10000000;
    keepalive_timeout 600s;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            default_type application/json;
            return 200 '{{}}';
        }}
    }}
}}
"""


def find_nginx() -> str | None:
    """The nginx binary, or None when it is not installed."""
    found = shutil.which("nginx")
    if found:
        return found
    return next((place for place in NGINX_PLACES if Path(place).is_file()), None)


@contextlib.contextmanager
def nginx_server(binary: str, tmp: Path) -> Iterator[str]:
    """nginx on a free loopback port with its config, pid file and temp folders in *tmp*; yields its URL."""
    tmp.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(CONFIG.format(tmp=tmp, port=port), encoding="utf-8")
    proc = subprocess.Popen([binary, "-c", str(conf), "-p", str(tmp)], stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGQUIT)  # a graceful stop: the workers end with the master
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
