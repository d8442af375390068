"""A fast, deterministic OpenAI-compatible server that mimics OpenAI, hosted DeepSeek or vLLM.

It is the upstream for Offramp's tests, demos and proxy benchmarks, so answers are a pure function of the
request (plus a seed) and each flavor's quirks are data in `flavors.py`. Never imported by `adapters/`.
"""

from offramp.migrate.fake_upstream.options import FakeOptions, parse_degrade

__all__ = ["FakeOptions", "parse_degrade"]
