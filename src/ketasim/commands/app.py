"""``ketasim app``: the interactive app in the browser (Panel on a Bokeh server, :mod:`ketasim.app.ui`).

It listens on 127.0.0.1 (this machine only) unless ``--host`` names another address; then it warns on
stderr, since anyone who can reach that address can use the app.
"""

from __future__ import annotations

import argparse
import sys

from ketasim.errors import KetasimError

NAME = "app"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``app`` sub-command."""
    p = sub.add_parser(NAME, help="interactive app in the browser: dose, regimen, mechanisms -> time courses")
    p.add_argument(
        "--port", type=int, default=5006, help="port to listen on (default 5006; 0 = any free port)"
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; others are reachable from outside)",
    )
    p.add_argument("--no-browser", action="store_true", help="do not open a browser window")


def check_port(port: int) -> int:
    """The port number, or a KetasimError naming the valid range."""
    if not 0 <= port <= 65535:
        raise KetasimError(
            f"must be between 0 and 65535, got {port}", argument="--port", fix="e.g. --port 5006"
        )
    return port


def websocket_origins(host: str, port: int) -> list[str]:
    """Origins whose pages may open the app's websocket (Bokeh refuses others)."""
    if host in ("0.0.0.0", "::", ""):
        return ["*"]
    return sorted({f"{h}:{port}" for h in (host, "localhost", "127.0.0.1")})


def run(args: argparse.Namespace) -> int:
    """Serve the app until interrupted (Ctrl-C)."""
    port = check_port(args.port)
    host = args.host.strip()
    if host not in LOOPBACK:
        print(
            f"ketasim app: warning: listening on {host}, not 127.0.0.1: anyone who can reach this address "
            "can use the app",
            file=sys.stderr,
        )
    try:
        import panel as pn
    except ImportError:
        raise KetasimError(
            "the app needs the 'panel' package", argument="app", fix="pip install panel"
        ) from None
    from ketasim.app.ui import create_page

    try:
        server = pn.serve(
            {"/": create_page},
            port=port,
            address=host,
            websocket_origin=websocket_origins(host, port),
            show=False,
            start=False,
            title="ketasim",
            verbose=False,
        )
    except OSError as exc:
        raise KetasimError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc})",
            argument="--port",
            fix="choose another port, e.g. --port 0 for any free one",
        ) from None
    server.start()
    url_host = f"[{host}]" if ":" in host else host
    url = f"http://{url_host}:{server.port}/"
    print(f"ketasim app: serving on {url} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    if not args.no_browser:
        import webbrowser

        server.io_loop.add_callback(webbrowser.open, url)
    try:
        server.io_loop.start()
    except KeyboardInterrupt:
        print("ketasim app: stopped", file=sys.stderr)
    finally:
        server.stop()
    return 0
