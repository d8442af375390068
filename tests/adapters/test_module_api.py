"""0.x-style module API, exports, weight of `from offramp import adapters`, and profile files."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import openai
import pytest

from offramp import adapters
from offramp.adapters.profiles import ProfileError, available_kinds, load_profile, load_profile_file


def test_configure_builds_lazily_and_rebuilds_on_change(oa):
    adapters.configure(api_key="sk-1", api_base=oa.base_url, organization="org-1")
    c1 = adapters.client()
    assert c1 is adapters.client() and c1.api_key == "sk-1" and c1.organization == "org-1"
    assert str(c1.base_url).startswith(oa.base_url)
    assert c1.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}]).choices
    adapters.configure(api_key="sk-2")
    c2 = adapters.client()
    assert c2 is not c1 and c2.api_key == "sk-2"
    assert isinstance(adapters.async_client(), openai.AsyncOpenAI)
    with pytest.raises(TypeError, match="unknown setting 'engine'"):
        adapters.configure(engine="davinci")


def test_azure_api_type_gives_azure_semantics():
    adapters.configure(api_type="azure", api_key="k", api_base="https://x.openai.azure.com", api_version="2024-06-01")
    assert isinstance(adapters.client(), openai.AzureOpenAI)
    assert isinstance(adapters.async_client(), openai.AsyncAzureOpenAI)
    assert isinstance(adapters.client(), adapters.AzureOpenAI)


def test_exceptions_are_openais():
    assert adapters.RateLimitError is openai.RateLimitError and adapters.APIError is openai.APIError
    assert issubclass(adapters.OpenAI, openai.OpenAI) and issubclass(adapters.AsyncOpenAI, openai.AsyncOpenAI)


def test_import_adapters_stays_light():
    """Nothing beyond what `import openai` itself loads (openai 3.x imports aiohttp when it is installed)."""
    code = textwrap.dedent("""
        import sys
        import openai
        before = set(sys.modules)
        from offramp import adapters
        new = set(sys.modules) - before
        bad = sorted(m for m in new if m.split('.')[0] in ('libcst', 'typer', 'rich', 'aiohttp', 'deepdiff',
                                                           'sqlalchemy')
                     or m.startswith(('offramp.migrate', 'offramp.shadow')))
        print(bad)
        print(sorted(m for m in ('libcst', 'typer', 'rich') if m in sys.modules))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == ["[]", "[]"]


def test_every_shipped_profile_loads_and_deepseek_is_dated():
    assert {"openai", "deepseek", "vllm", "sglang", "ollama", "llamacpp"} <= set(available_kinds())
    for kind in available_kinds():
        p = load_profile(kind, "any-model")
        assert p.source and p.verified is not None, kind
    assert load_profile("deepseek", "deepseek-flash").supports("vision")
    assert not load_profile("deepseek", "deepseek-v4-pro").supports("vision")
    assert load_profile("deepseek", "deepseek-chat").until is not None
    assert not load_profile("deepseek", "deepseek-v4-flash").supports("embeddings")


def test_every_shipped_profile_row_names_its_source_and_date():
    import tomllib

    from offramp.adapters.profiles import RULES_BACKENDS_DIR

    for f in sorted(RULES_BACKENDS_DIR.glob("*.toml")):
        data = tomllib.loads(f.read_text(encoding="utf-8"))
        rows = [data["defaults"]] if "defaults" in data else []
        for row in [*rows, *data.get("profile", [])]:
            assert row.get("source") and row.get("verified"), (f.name, row.get("family", "defaults"))


PROVENANCE = 'source = "migrate probe http://gpu:8000/v1 (2026-12-03)"\nverified = 2026-12-03\n'


def test_probe_style_profile_file_and_errors(tmp_path):
    f = tmp_path / "myvllm.toml"
    f.write_text('kind = "vllm"\n[[profile]]\nfamily = "probed"\nn = false\njson_schema = false\n' + PROVENANCE)
    p = load_profile("vllm", "m", path=f)
    assert p.family == "probed" and not p.n and p.developer_role  # unspecified fields: OpenAI behaviour
    bad = tmp_path / "bad.toml"
    bad.write_text('kind = "x"\n[[profile]]\nn = "maybe"\n' + PROVENANCE)
    with pytest.raises(ProfileError, match=r"bad.toml: profile\[0\].n"):
        load_profile_file(bad)
    bad.write_text('kind = "x"\n[[profile]]\nsuports_n = true\n' + PROVENANCE)
    with pytest.raises(ProfileError, match="suports_n"):
        load_profile_file(bad)


@pytest.mark.parametrize("text, message", [
    ('[[profile]]\nfamily = "v9"\nverified = 2026-12-03\n', r"nosrc.toml: profile\[0\] \(v9\): missing 'source'"),
    ('[[profile]]\nfamily = "v9"\nsource = "docs"\n', r"nosrc.toml: profile\[0\] \(v9\): missing 'verified'"),
    ('[[profile]]\nfamily = "v9"\nsource = "docs"\nverified = "last week"\n', "missing 'verified'"),
    ('[defaults]\nn = false\n[[profile]]\nfamily = "v9"\n' + PROVENANCE, r"nosrc.toml: defaults: missing 'source'"),
])
def test_a_profile_row_without_provenance_fails_in_one_line(tmp_path, text, message):
    f = tmp_path / "nosrc.toml"
    f.write_text('kind = "x"\n' + text)
    with pytest.raises(ProfileError, match=message) as exc:
        load_profile_file(f)
    assert "\n" not in str(exc.value)


def test_azure_ad_api_type_sends_the_key_as_a_bearer_token():
    adapters.configure(api_type="azure_ad", api_key="ad-token", api_base="https://x.openai.azure.com",
                       api_version="2024-06-01")
    c = adapters.client()
    assert isinstance(c, openai.AzureOpenAI) and c._azure_ad_token == "ad-token"
