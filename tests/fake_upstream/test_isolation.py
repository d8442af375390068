"""The fake upstream is test/demo tooling: the runtime adapter must never pull it in.

(aiohttp itself is not checked: openai 3.x imports it through its vendored httpx_aiohttp transport.)"""

from __future__ import annotations

import subprocess
import sys


def test_importing_adapters_does_not_import_the_fake_upstream():
    code = "import sys; from offramp import adapters; print(','.join(sorted(m for m in sys.modules if m.startswith('offramp.migrate'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_fake_upstream_stops_cleanly_and_can_restart():
    import threading

    from offramp.migrate.fake_upstream.testing import FakeUpstream

    before = threading.active_count()
    fake = FakeUpstream("openai")
    with fake:
        first = fake.port
    assert threading.active_count() == before
    with fake:
        assert fake.port is not None and fake.base_url.endswith("/v1")
    assert first is not None and threading.active_count() == before
