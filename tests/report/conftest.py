"""A realistic scan report built by hand: findings at every level, a notebook cell, hostile source lines
(pipes, backticks, HTML, URLs) and skipped files, so every renderer is tested apart from the engine."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from offramp.migrate.report_model import (
    CategorySummary,
    DeepSeekOffer,
    FileSummary,
    Finding,
    ScanReport,
    Skipped,
    Summary,
)
from offramp.migrate.ruleset import DeepSeekOffer as RuleOffer
from offramp.migrate.ruleset import Match, Rule, RuleSet, load_levels

LEVELS = load_levels()

# (path, line, column, cell, api, category, level, rule, features, code, hosted, self_hosted)
ROWS = [
    (
        "app/agent.py",
        10,
        8,
        None,
        "OpenAI",
        "client",
        1,
        "client.openai",
        [],
        'self.client = OpenAI(base_url="https://api.openai.com/v1")',
        "supported",
        "supported",
    ),
    (
        "app/agent.py",
        40,
        15,
        None,
        "chat.completions.create",
        "tools",
        2,
        "v1.chat.completions.create",
        ["tools", "tool_choice_forced"],
        "return self.client.chat.completions.create(model=MODEL, tools=TOOLS, tool_choice=FORCE | extra)",
        "translated",
        "emulated",
    ),
    (
        "app/legacy.py",
        12,
        0,
        None,
        "openai.ChatCompletion.create",
        "chat",
        1,
        "v0.chat-completion.create",
        ["stream"],
        "resp = openai.ChatCompletion.create(engine=DEPLOYMENT, messages=msgs, stream=True)",
        "supported",
        "supported",
    ),
    (
        "app/legacy.py",
        30,
        4,
        None,
        "openai.Model.list",
        "models",
        0,
        "v0.model.list",
        [],
        "names = [m.id for m in openai.Model.list().data]",
        "supported",
        "translated",
    ),
    (
        "app/classify.py",
        7,
        4,
        None,
        "chat.completions.create",
        "fine_tuning",
        3,
        "v1.chat.completions.create",
        ["fine_tuned_model"],
        'out = client.chat.completions.create(model="ft:gpt-4o-mini:acme::9xYz", messages=m)',
        "unsupported",
        "unsupported",
    ),
    (
        "app/search/embed.py",
        22,
        11,
        None,
        "embeddings.create",
        "embeddings",
        4,
        "v1.embeddings.create",
        [],
        'vecs = client.embeddings.create(model="text-embedding-3-small", input=chunks)'
        "  # <script>alert(1)</script>",
        "unsupported",
        "translated",
    ),
    (
        "app/assist.py",
        15,
        4,
        None,
        "beta.assistants.create",
        "platform",
        5,
        "v1.beta.assistants.create",
        [],
        "bot = client.beta.assistants.create(name='helper', tools=[{'type': 'file_search'}])",
        "unsupported",
        "unsupported",
    ),
    (
        "notebooks/explore.ipynb",
        4,
        0,
        2,
        "images.generate",
        "multimodal",
        5,
        "v1.images.generate",
        [],
        'img = client.images.generate(prompt="a `cat` & a <dog>", size="1024x1024")',
        "unsupported",
        "emulated",
    ),
]
SKIPPED = [
    ("legacy/py2_only.py", "does not parse: line 3: Missing parentheses in call to 'print'"),
    ("data/blob.py", "not UTF-8: invalid start byte 0xff at offset 10"),
    ("vendor/huge.py", "larger than 2000000 bytes"),
]


def summarise(findings: list[Finding], skipped: list[Skipped], files_scanned: int) -> Summary:
    """What the engine computes; kept here so hand-built reports are self-consistent."""
    level = max((f.level for f in findings), default=0)
    lv = next(x for x in LEVELS if x.level == level)
    cats: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        cats[f.category].append(f)
    by_level = Counter(str(f.level) for f in findings)
    return Summary(
        level=level,
        level_name=lv.name,
        effort=lv.effort,
        files_scanned=files_scanned,
        files_parsed=len({f.path for f in findings}) + 2,
        files_with_findings=len({f.path for f in findings}),
        findings=len(findings),
        skipped=len(skipped),
        by_category=[
            CategorySummary(
                category=c, findings=len(fs), level=max(f.level for f in fs), files=len({f.path for f in fs})
            )
            for c, fs in sorted(cats.items())
        ],
        by_level={str(n): by_level.get(str(n), 0) for n in range(6)},
    )


def build_report(rows=ROWS, skipped=SKIPPED, root: str = "/home/dev/support-bot") -> ScanReport:
    findings = [
        Finding(
            path=p,
            line=ln,
            column=col,
            cell=cell,
            api=api,
            category=cat,
            level=lvl,
            rule=rule,
            features=feats,
            code=code,
            message=f"{api} call",
            deepseek=DeepSeekOffer(hosted=h, self_hosted=sh, reason=f"{api}: see the backend matrix"),
            rewrite="adapter-client",
        )
        for (p, ln, col, cell, api, cat, lvl, rule, feats, code, h, sh) in rows
    ]
    skips = [Skipped(path=p, reason=r) for p, r in skipped]
    per_file: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        per_file[f.path].append(f)
    files = [
        FileSummary(path=p, level=max(f.level for f in fs), findings=len(fs)) for p, fs in per_file.items()
    ]
    return ScanReport(
        root=root,
        summary=summarise(findings, skips, files_scanned=42),
        files=files,
        findings=findings,
        skipped=skips,
        rules_digest="0123456789abcdef",
    )


def build_ruleset(report: ScanReport) -> RuleSet:
    rules = []
    for f in report.findings:
        if any(r.id == f.rule for r in rules):
            continue
        rules.append(
            Rule(
                id=f.rule,
                title=f"{f.api} call",
                match=Match(kind="call", names=("openai.x",)),
                category=f.category,
                level=f.level,
                deepseek=RuleOffer(
                    hosted=f.deepseek.hosted, self_hosted=f.deepseek.self_hosted, reason=f.deepseek.reason
                ),
                rewrite="adapter-client",
                message=f"Uses {f.api}.",
            )
        )
    rules.append(
        Rule(
            id="v1.moderations.create",
            title="Moderations",
            match=Match(kind="call", names=("openai.y",)),
            category="platform",
            level=5,
            rewrite="keep-openai",
            deepseek=RuleOffer(hosted="unsupported", self_hosted="unsupported", reason="No moderation API"),
        )
    )
    return RuleSet(
        rules=tuple(rules),
        features=(),
        levels=LEVELS,
        categories=tuple(sorted({r.category for r in rules})),
        digest="0123456789abcdef",
    )


@pytest.fixture
def report() -> ScanReport:
    return build_report()


@pytest.fixture
def ruleset(report: ScanReport) -> RuleSet:
    return build_ruleset(report)


@pytest.fixture
def empty_report() -> ScanReport:
    return build_report(rows=[], skipped=[])
