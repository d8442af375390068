"""`migrate shadow status`: agreement against the noise floor per comparator, latency and cost on both sides,
and the mirrors not sent by reason — read from the store, so it works while the proxy runs or after."""

from __future__ import annotations

import time
from dataclasses import asdict

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from offramp.shadow.report.endpoints import endpoint_rows
from offramp.shadow.store import schema
from offramp.shadow.store.queries import agreement_by, counter_totals, side_stats


def summarize(engine: Engine, *, since: float | None = None) -> dict:
    comps: dict[str, dict] = {}
    for a in agreement_by(engine, since=since, by_family=False):
        d = comps.setdefault(a.comparator, {"candidate": None, "noise": None})
        d[a.side] = {"n": a.n, "agree": a.agree, "rate": a.rate, "mean_score": a.mean_score}
    for d in comps.values():
        c, n = d["candidate"], d["noise"]
        # Excess disagreement of the candidate over the primary's own: the figure the ramp gates on.
        d["excess_disagreement"] = (
            (1 - c["rate"]) - (1 - n["rate"]) if c and n and c["rate"] is not None and n["rate"] is not None else None
        )
    families = {}
    for a in agreement_by(engine, since=since, by_family=True):
        families.setdefault(a.family, {}).setdefault(a.comparator, {})[a.side] = {"n": a.n, "rate": a.rate}
    with engine.connect() as conn:
        q = select(func.count(), func.min(schema.pairs.c.created_at), func.max(schema.pairs.c.created_at))
        if since is not None:
            q = q.where(schema.pairs.c.created_at >= since)
        n_pairs, first, last = conn.execute(q).one()
    counters = counter_totals(engine, since=since)
    return {**health(engine, since=since, counters=counters),
        "pairs": int(n_pairs or 0),
        "first": first,
        "last": last,
        "comparators": comps,
        "families": families,
        "sides": {k: asdict(v) for k, v in side_stats(engine, since=since).items()},
        "skips": counters.get("mirror_skip", {}),
        "mirror_outcomes": counters.get("mirror_candidate", {}),
        "noise_outcomes": counters.get("mirror_noise", {}),
        "endpoints": [e.model_dump() for e in endpoint_rows(engine, since=since)],
    }


def health(engine: Engine, *, since: float | None = None, counters: dict | None = None,
           now: float | None = None) -> dict:
    """The mirror's accounting and every replica's candidate breaker, from the store (what `shadow status`, the
    admin API and the dashboard show). Every request offered to the mirror ends in one outcome, so
    offered = compared + candidate errors + skipped + in flight; `in_flight_at_stop` are the jobs a replica held
    when it stopped writing (killed: lost), `unaccounted` anything else (0 unless counters were lost)."""
    from offramp.shadow.breaker import replica_rows

    now = time.time() if now is None else now
    counters = counter_totals(engine, since=since) if counters is None else counters
    replicas = replica_rows(engine, now)
    errs = {k: int(v) for k, v in counters.get("mirror_error", {}).items()}
    skips = {k: int(v) for k, v in counters.get("mirror_skip", {}).items() if v}
    acc = {
        "offered": int(sum(counters.get("mirror_offered", {}).values())),
        "compared": int(sum(counters.get("mirror_compared", {}).values())),
        "errors": sum(errs.values()),
        "candidate_errors": errs,
        "skipped": sum(skips.values()),
        "skips": skips,
        "in_flight": sum(int(r["in_flight"] or 0) for r in replicas if r["live"]),
        "in_flight_at_stop": sum(int(r["in_flight"] or 0) for r in replicas if not r["live"]),
    }
    acc["unaccounted"] = acc["offered"] - acc["compared"] - acc["errors"] - acc["skipped"] - acc["in_flight"] - \
        acc["in_flight_at_stop"]
    breakers = [{"replica": r["replica"], "candidate": r["candidate"], "state": r["breaker_state"],
                 "reason": r["breaker_reason"], "since": r["breaker_since"], "retry_at": r["breaker_retry_at"],
                 "live": r["live"], "updated_at": r["updated_at"], "in_flight": r["in_flight"]} for r in replicas]
    with engine.connect() as conn:
        t = schema.breaker_events
        q = select(t).order_by(t.c.at.desc()).limit(10)
        if since is not None:
            q = q.where(t.c.at >= since)
        events = [dict(r._mapping) for r in conn.execute(q)]
    return {"accounting": acc, "breakers": breakers, "breaker_events": events}


def add_breaker_concerns(summary: dict) -> None:
    """Put every live replica's open breaker into the ramp section, as the controller's check sees it."""
    from offramp.shadow.breaker import breaker_concerns

    ramp = summary.get("ramp")
    if not ramp:
        return
    rows = [{**b, "breaker_state": b["state"], "breaker_reason": b["reason"]} for b in summary.get("breakers", [])]
    for c in breaker_concerns(rows, ramp.get("share") or 0.0):
        ramp["rollback" if c["action"] == "rollback" else "holding"].append(c)


def accounting_line(acc: dict) -> str:
    def kinds(d: dict) -> str:
        return " (" + ", ".join(f"{k} {v}" for k, v in sorted(d.items())) + ")" if d else ""

    line = (f"Mirror accounting: offered {acc['offered']} = compared {acc['compared']} + candidate errors "
            f"{acc['errors']}{kinds(acc['candidate_errors'])} + skipped {acc['skipped']}{kinds(acc['skips'])} + "
            f"in flight {acc['in_flight']}")
    if acc["in_flight_at_stop"]:
        line += f" + in flight when a replica stopped {acc['in_flight_at_stop']}"
    if acc["unaccounted"]:
        line += f"; unaccounted {acc['unaccounted']} (counters lost, e.g. the last flush before a kill -9)"
    return line


def breaker_lines(breakers: list[dict], now: float | None = None) -> list[str]:
    now = time.time() if now is None else now
    out = []
    for b in breakers:
        if not b["live"]:
            continue
        state = (b["state"] or "closed").replace("_", "-")
        line = f"Candidate {b['candidate']} breaker on {b['replica']}: {state}"
        if state != "closed":
            since = time.strftime("%H:%M:%S UTC", time.gmtime(b["since"])) if b["since"] else "?"
            line += f" since {since} — {b['reason']}"
            if b["retry_at"] and b["state"] == "open":
                line += f"; next probe in {max(0.0, b['retry_at'] - now):.0f} s"
        out.append(line)
    return out


def _fmt_rate(d: dict | None) -> str:
    if not d or d.get("rate") is None:
        return "—"
    return f"{d['rate'] * 100:5.1f}% (n={d['n']})"


def _ms(v: float | None) -> str:
    return "—" if v is None else f"{v:.0f} ms"


def render(summary: dict, console) -> None:
    from rich.table import Table

    when = ""
    if summary["first"]:
        when = f" from {time.strftime('%Y-%m-%d %H:%M', time.gmtime(summary['first']))} to " + time.strftime(
            "%Y-%m-%d %H:%M UTC", time.gmtime(summary["last"])
        )
    console.print(f"[bold]Shadow pairs:[/bold] {summary['pairs']}{when}")
    t = Table(title="Agreement with the primary vs the primary's own noise floor")
    for col in ("comparator", "candidate agrees", "primary agrees with itself", "excess disagreement"):
        t.add_column(col)
    for name, d in summary["comparators"].items():
        ex = d["excess_disagreement"]
        ex_s = "—" if ex is None else (f"[red]{ex * 100:+.1f} pp[/red]" if ex > 0.02 else f"{ex * 100:+.1f} pp")
        t.add_row(name, _fmt_rate(d["candidate"]), _fmt_rate(d["noise"]), ex_s)
    console.print(t)
    s = Table(title="Latency and cost")
    for col in ("side", "calls", "errors", "TTFT p50", "TTFT p95", "total p50", "total p95", "tokens in/out", "cost"):
        s.add_column(col)
    for side, label in (("primary", "primary"), ("candidate", "candidate"), ("noise", "primary (2nd)")):
        st = summary["sides"][side]
        s.add_row(
            label, str(st["n"]), str(st["errors"]), _ms(st["ttft_p50"]), _ms(st["ttft_p95"]), _ms(st["total_p50"]),
            _ms(st["total_p95"]), f"{st['prompt_tokens']}/{st['completion_tokens']}", f"${st['cost_usd']:.4f}",
        )
    console.print(s)
    errs = summary["sides"]["candidate"]["error_kinds"]
    if errs:
        console.print("Candidate errors: " + ", ".join(f"{k} {v}" for k, v in sorted(errs.items())))
    for e in summary.get("endpoints") or []:
        line = f"{e['endpoint']}: {e['pairs']} pairs"
        if e["candidate_sent_to"]:
            line += ", candidate sent to " + ", ".join(f"{k} × {v}" for k, v in sorted(e["candidate_sent_to"].items()))
        if e["candidate_errors"]:
            line += f", {e['candidate_errors']} candidate errors"
        for n in e["neighbours"]:
            if n["candidate_mean_overlap"] is not None:
                noise = "—" if n["noise_mean_overlap"] is None else f"{n['noise_mean_overlap'] * 100:.0f}%"
                line += (f"; {n['k']} nearest neighbours kept: {n['candidate_mean_overlap'] * 100:.0f}% "
                         f"(primary itself {noise}, {n['candidate_n']} inputs)")
        console.print(line, markup=False, highlight=False, soft_wrap=True)
        if e["reindex"]:
            console.print(f"  {e['reindex']}", markup=False, highlight=False, soft_wrap=True)
    if summary["skips"]:
        console.print("Mirrors not sent: " + ", ".join(f"{k} {int(v)}" for k, v in sorted(summary["skips"].items())))
    if summary.get("accounting", {}).get("offered"):
        console.print(accounting_line(summary["accounting"]), markup=False, highlight=False, soft_wrap=True)
    for line in breaker_lines(summary.get("breakers", [])):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    from offramp.shadow.ramp.summary import summary_lines

    for line in summary_lines(summary.get("ramp")):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
