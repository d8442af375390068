"""`migrate fake-upstream` from the command line: it serves, and bad options are one-line errors."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import openai

ENV = {**os.environ, "OFFRAMP_ADMIN_TOKEN": "adm-token"}


def test_cli_serves_the_chosen_flavor():
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "migrate",
            "fake-upstream",
            "--flavor",
            "deepseek",
            "--port",
            "0",
            "--seed",
            "3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/v1", line)
        assert match, line + proc.stderr.read() if proc.poll() is not None else line
        c = openai.OpenAI(base_url=match.group(0), api_key="k", max_retries=0)
        r = c.chat.completions.create(model="deepseek-flash", messages=[{"role": "user", "content": "hi"}],
                                      extra_body={"thinking": {"type": "disabled"}})
        assert r.choices[0].message.content == "Echo: hi" and r.usage.prompt_cache_miss_tokens > 0
        assert "adm-token" not in line
    finally:
        proc.terminate()
        proc.wait(10)


def test_cli_rejects_bad_options_with_one_line():
    from typer.testing import CliRunner

    import offramp.migrate.commands  # noqa: F401  (registers the commands)
    from offramp.migrate.cli_app import app

    for args, needle in (
        (["--flavor", "azure"], "--flavor"),
        (["--degrade", "truncate=lots"], "truncate"),
        (["--noise", "2"], "--noise"),
        (["--api-key-env", "SURELY_UNSET_VAR"], "SURELY_UNSET_VAR"),
    ):
        out = CliRunner().invoke(app, ["fake-upstream", "--port", "0", *args], env={"COLUMNS": "200"})
        assert out.exit_code == 2 and needle in out.output, out.output
