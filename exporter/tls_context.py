"""One TLS context per CA bundle for all the exporter's AWS clients, the bundle loaded once.

botocore gives every client an SSLContext of its own, and urllib3 loads the CA bundle into that
context again for every new connection (urllib3#3623, botocore#3171). With the bundle botocore
verifies against by default (certifi's, some 150 CAs) that is about 21 ms of CPU per HTTPS
connection and 650 KB of CAs held per client (bench/organization.py measures both). A target's
background sync opens its connections afresh (background.py closes them between syncs), so at
1,000 targets the CA bundle alone would cost more than a core and 650 MB.

So a client that verifies against a CA bundle file, with no client certificate, gets the shared
context of that bundle, loaded once, and its connection pools are told that the bundle is in
the context already (urllib3 then loads nothing). Verification is unchanged: the same CAs, and
urllib3 still sets CERT_REQUIRED and checks the host name on every connection. A pool whose
context is not the shared one (a proxy's, which botocore builds separately) is left as botocore
made it, and so is a client that does not verify, has a client certificate, or comes from a
botocore whose HTTP session is laid out differently (tests/test_tls_context.py notices that).
"""

from __future__ import annotations

import ssl
import threading
from pathlib import Path
from typing import Any

from botocore.httpsession import URLLib3Session, create_urllib3_context, get_cert_path

_lock = threading.Lock()
_contexts: dict[str, ssl.SSLContext] = {}
loads = 0  # CA bundles loaded into a shared context so far (once per bundle), for the tests


def _context(cafile: str) -> ssl.SSLContext:
    global loads
    with _lock:
        context = _contexts.get(cafile)
        if context is None:
            context = create_urllib3_context()  # what botocore makes for each client
            context.load_verify_locations(cafile=cafile)
            _contexts[cafile] = context
            loads += 1
        return context


def _is_botocores(http: object) -> bool:
    """botocore's own HTTP session (a plain bool: its private methods are not in the stubs)."""
    return isinstance(http, URLLib3Session)


def share_tls_context(client: Any) -> bool:
    """Give ``client`` the shared context of its CA bundle; whether it could."""
    endpoint = getattr(client, "_endpoint", None)
    http: Any = getattr(endpoint, "http_session", None)
    manager = getattr(http, "_manager", None)
    pool_kw = getattr(manager, "connection_pool_kw", None)
    verify = getattr(http, "_verify", None)
    if not _is_botocores(http) or not isinstance(pool_kw, dict) or not verify:
        return False
    if pool_kw.get("cert_file") or pool_kw.get("key_file"):
        return False  # urllib3 would load the client certificate into the shared context
    cafile = get_cert_path(verify)
    if not isinstance(cafile, str) or not Path(cafile).is_file():
        return False  # botocore's own error for a missing bundle, on the first request
    context = _context(cafile)
    pool_kw["ssl_context"] = context
    setup = http._setup_ssl_cert

    def setup_ssl_cert(pool: Any, url: str, verify: Any) -> None:
        setup(pool, url, verify)
        conn_kw = getattr(pool, "conn_kw", {})
        if pool.ca_certs == cafile and conn_kw.get("ssl_context") is context:
            pool.ca_certs = None  # in the shared context already: urllib3 loads nothing

    http._setup_ssl_cert = setup_ssl_cert
    return True
