"""`migrate adapter check` holds a config to the backend profiles and to the app it routes (its scan):
ids a backend does not serve, mistyped ids and capabilities no backend in a call's chain has are errors, one
line each, exit 2; `adapter route` never answers with a backend/model pair that would get a 400."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import offramp.migrate.commands  # noqa: F401  (registers the commands)
from offramp.migrate.cli_app import app

REPO = Path(__file__).resolve().parents[2]
MULTIMODAL = REPO / "sample_apps" / "multimodal_app"
DS = '[backends.deepseek]\nkind = "deepseek"\nbase_url = "https://api.deepseek.com"\napi_key_env = "DEEPSEEK_API_KEY"\n'
# The config the README used to show: DeepSeek by default, no model map, only images kept on OpenAI.
OLD_README = DS + '[routes]\ndefault = "deepseek"\n[routes.capabilities]\nimages = "openai"\n'


def run(*args: str):
    return CliRunner().invoke(app, list(args), env={"DEEPSEEK_API_KEY": "k", "OFFRAMP_CONFIG": None})


def errors(output: str) -> list[str]:
    return [ln for ln in output.splitlines() if ln.startswith("error: ")]


@pytest.fixture
def cfg(tmp_path: Path):
    def write(text: str) -> Path:
        p = tmp_path / "offramp.toml"
        p.write_text(text)
        return p
    return write


def test_the_old_readme_config_fails_on_the_app_it_was_meant_for(cfg):
    res = run("adapter", "check", "--config", str(cfg(OLD_README)), "--project", str(MULTIMODAL))
    assert res.exit_code == 2
    errs = errors(res.output)
    assert any("routes.default = 'deepseek'" in e and "400 Model Not Exist" in e and "default_model" in e
               for e in errs), errs
    audio = [e for e in errs if "media/studio.py:55" in e]
    assert audio and "needs audio, which deepseek does not serve" in audio[0] and 'audio = "openai"' in audio[0]
    assert not any("images" in e for e in errs), "images is routed to OpenAI: no problem there"
    assert "ok:" not in res.output


def test_a_mistyped_model_id_gets_a_did_you_mean(cfg):
    text = DS + 'default_model = "deepseek-flash"\n[routes]\ndefault = "deepseek"\n[routes.models]\n' \
                '"gpt-4o-mini" = "deepseek/deepseek-flsh"\n'
    res = run("adapter", "check", "--config", str(cfg(text)), "--no-scan")
    assert res.exit_code == 2
    assert errors(res.output) == [f"error: {cfg(text)}: routes.models.gpt-4o-mini: deepseek serves no model "
                                  "'deepseek-flsh'; did you mean 'deepseek-flash'?"]


def test_a_retired_id_names_its_replacement(cfg):
    text = DS + 'default_model = "deepseek-chat"\n[routes]\ndefault = "deepseek"\n'
    res = run("adapter", "check", "--config", str(cfg(text)), "--no-scan")
    assert res.exit_code == 2
    (err,) = errors(res.output)
    assert "backends.deepseek.default_model" in err and "retired on 2026-07-24" in err and "'deepseek-flash'" in err


def test_an_openai_model_mapped_without_a_deepseek_id_is_an_error(cfg):
    text = DS + 'default_model = "deepseek-flash"\n[routes]\n[routes.models]\n"gpt-4o" = "deepseek"\n'
    res = run("adapter", "check", "--config", str(cfg(text)), "--no-scan")
    assert res.exit_code == 2
    (err,) = errors(res.output)
    assert "routes.models.gpt-4o: deepseek serves no model 'gpt-4o'" in err and "deepseek/<id>" in err


def test_capability_routes_are_checked(cfg):
    text = DS + '[routes]\n[routes.capabilities]\nembeddings = "deepseek"\nvisoin = "openai"\n'
    res = run("adapter", "check", "--config", str(cfg(text)), "--no-scan")
    assert res.exit_code == 2
    errs = errors(res.output)
    assert any("routes.capabilities.embeddings: backend deepseek (deepseek) does not serve embeddings" in e
               for e in errs), errs
    assert any("routes.capabilities.visoin: unknown capability; did you mean 'vision'?" in e for e in errs), errs


def test_a_capability_served_by_the_fallback_passes(cfg, tmp_path):
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "emb.py").write_text("from openai import OpenAI\nclient = OpenAI()\n"
                                    "def embed(t):\n    return client.embeddings.create(model='text-embedding-3-small',"
                                    " input=t)\n")
    text = DS + 'default_model = "deepseek-flash"\n[routes]\ndefault = "deepseek"\n'
    res = run("adapter", "check", "--config", str(cfg(text)), "--project", str(app_dir))
    assert res.exit_code == 2 and any("emb.py:4" in e and "needs embeddings" in e for e in errors(res.output))
    res = run("adapter", "check", "--config", str(cfg(text.replace('default = "deepseek"\n',
                                                                   'default = "deepseek"\nfallback = ["openai"]\n'))),
              "--project", str(app_dir))
    assert res.exit_code == 0, res.output


def test_a_partial_share_checks_both_paths(cfg, tmp_path):
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "chat.py").write_text("from openai import OpenAI\nclient = OpenAI()\n"
                                     "def ask(q):\n    return client.chat.completions.create(model='gpt-4o',"
                                     " messages=q)\n")
    # 25% of gpt-4o to DeepSeek, the rest to the default: a mistyped default backend model fails the 75%
    text = DS + '[routes]\ndefault = "deepseek"\n[routes.models]\n' \
                '"gpt-4o" = { backend = "deepseek", model = "deepseek-flash", share = 25 }\n'
    res = run("adapter", "check", "--config", str(cfg(text)), "--project", str(app_dir))
    assert res.exit_code == 2
    assert any("chat.py:4: chat call (gpt-4o): model map gpt-4o skipped" in e for e in errors(res.output))
    ok = text.replace('default = "deepseek"', 'default = "openai"')
    assert run("adapter", "check", "--config", str(cfg(ok)), "--project", str(app_dir)).exit_code == 0


def test_a_self_hosted_backend_serves_whatever_it_loaded(cfg):
    text = '[backends.gpu]\nkind = "vllm"\nbase_url = "http://127.0.0.1:8000/v1"\n[routes]\ndefault = "gpu"\n'
    res = run("adapter", "check", "--config", str(cfg(text)), "--project", str(MULTIMODAL))
    # vLLM serves vision and audio, not images: images must be routed elsewhere
    errs = errors(res.output)
    assert res.exit_code == 2 and len(errs) == 1 and "needs images" in errs[0], errs


def test_route_never_answers_an_unserved_pair(cfg):
    res = run("adapter", "route", "gpt-4o", "--config", str(cfg(OLD_README)))
    assert res.exit_code == 2
    assert not re.search(r"use +deepseek/gpt-4o", res.output)
    assert "1. fail deepseek/gpt-4o" in res.output
    assert errors(res.output)[-1].startswith("error: gpt-4o: deepseek serves no model 'gpt-4o'")
    mapped = OLD_README.replace('[routes.capabilities]', '[routes.models]\n"gpt-4o" = "deepseek/deepseek-flash"\n'
                                '[routes.capabilities]')
    res = run("adapter", "route", "gpt-4o", "--config", str(cfg(mapped)))
    assert res.exit_code == 0 and "1. use  deepseek/deepseek-flash" in res.output


def test_the_written_config_passes_for_every_sample_app(tmp_path):
    from offramp.adapters.config import parse_config
    from offramp.migrate.rewrite.config_file import check_config, starting_config, uses_from_report
    from offramp.migrate.scan import ScanOptions, scan_path

    for app_dir in sorted((REPO / "sample_apps").iterdir()):
        if not (app_dir / "expected_findings.json").is_file():
            continue
        report = scan_path(app_dir, ScanOptions(use_cache=False))
        start = starting_config(report)
        assert check_config(parse_config(start.text, "offramp.toml"), uses_from_report(report)) == [], app_dir.name


def test_readme_example_is_the_written_config():
    """The README shows the offramp.toml `migrate rewrite sample_apps` writes, verbatim."""
    from offramp.migrate.rewrite.config_file import starting_config
    from offramp.migrate.scan import ScanOptions, scan_path

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- starting-offramp-toml: sample_apps -->\s*```toml\n(.*?)```", readme, re.S)
    assert m, "README: the starting offramp.toml example is missing"
    assert m.group(1) == starting_config(scan_path(REPO / "sample_apps", ScanOptions(use_cache=False))).text


def test_route_says_when_no_backend_serves_the_capability(cfg):
    res = run("adapter", "route", "dall-e-3", "--capability", "images", "--config", str(cfg(OLD_README.replace(
        'images = "openai"', 'vision = "openai"'))))
    assert res.exit_code == 2 and "1. skip deepseek/dall-e-3" in res.output
    assert errors(res.output) == ["error: dall-e-3: no backend in the chain serves images: route it under "
                                  "[routes.capabilities] or add a fallback"]


def test_a_fine_tuned_model_stays_on_openai(cfg, tmp_path):
    from offramp.migrate.rewrite.config_file import starting_config
    from offramp.migrate.scan import ScanOptions, scan_path

    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "cls.py").write_text("from openai import OpenAI\nclient = OpenAI()\nMODEL = 'ft:gpt-4o-mini:acme::x1'\n"
                                    "def label(q):\n    return client.chat.completions.create(model=MODEL,"
                                    " messages=q)\n")
    text = DS + 'default_model = "deepseek-flash"\n[routes]\ndefault = "deepseek"\n'
    res = run("adapter", "check", "--config", str(cfg(text)), "--project", str(app_dir))
    assert res.exit_code == 2
    assert any("cls.py:5" in e and "fine-tuned OpenAI model" in e and '"ft:gpt-4o-mini:acme::x1" = "openai"' in e
               for e in errors(res.output)), res.output
    start = starting_config(scan_path(app_dir, ScanOptions(use_cache=False)))
    assert start.mapped == {"ft:gpt-4o-mini:acme::x1": "openai"}
    assert run("adapter", "check", "--config", str(cfg(start.text)), "--project", str(app_dir)).exit_code == 0


def test_an_unresolved_fine_tuned_model_is_a_warning(cfg, tmp_path):
    text = DS + 'default_model = "deepseek-flash"\n[routes]\ndefault = "deepseek"\n[routes.capabilities]\n' \
                'fine_tuning = "openai"\n'
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.py").write_text(  # the id is a parameter's default: the call is known fine-tuned, the id is not
        'from openai import OpenAI\n\nclient = OpenAI()\n\n\ndef classify(ticket, model="ft:gpt-4o-mini:acme::zz1"):\n'
        '    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": ticket}])\n')
    res = run("adapter", "check", "--config", str(cfg(text)), "--project", str(app))
    assert res.exit_code == 0, res.output
    assert "warning: app.py:7: a call with a fine-tuned model whose id the scan did not resolve " \
           "goes to deepseek" in res.output


def test_a_fine_tuned_id_held_in_another_module_is_checked_as_an_error(cfg):
    """The finetuned_classifier keeps its ft: id in classifier/models.py: the scan resolves it, so routing it to
    DeepSeek is an error naming the id and the fix, not a warning about an unknown id."""
    text = DS + 'default_model = "deepseek-flash"\n[routes]\ndefault = "deepseek"\n[routes.capabilities]\n' \
                'fine_tuning = "openai"\n'
    res = run("adapter", "check", "--config", str(cfg(text)), "--project",
              str(REPO / "sample_apps" / "finetuned_classifier"))
    assert res.exit_code == 2, res.output
    assert ('error: classifier/classify.py:25: fine_tuning call (ft:gpt-4o-mini-2024-07-18:acme:tickets:9abcXYZ1): '
            'default route → deepseek') in res.output
    assert 'map it to "openai" in [routes.models]' in res.output


def test_explain_marks_an_unserved_pair(cfg):
    res = run("adapter", "explain", "gpt-4o", "--at", "2026-12-02T02:00", "--config", str(cfg(OLD_README)))
    assert res.exit_code == 2 and "1. fail deepseek/gpt-4o" in res.output
    assert errors(res.output)[-1].startswith("error: gpt-4o: deepseek serves no model 'gpt-4o'")
