"""The routing/translation/retry loop, written once as a generator so the sync and async transports share it.

The generator yields `Send` (do this HTTP call, send back a `Reply`), `Sleep` and `Parallel` (drive these
sub-generators concurrently, send back their results); it returns `Done` (a complete response) or `StreamDone`
(upstream streams to relay through a `StreamNormalizer`). No I/O happens here.
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import random
import re
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from offramp.adapters import conversations, multipart
from offramp.adapters import responses as rs
from offramp.adapters import translate as tr
from offramp.adapters.config import OfframpConfig
from offramp.adapters.profiles import BackendProfile, ProfileError, load_profile
from offramp.adapters.routing import Candidate, candidates, capabilities_of, endpoint_path
from offramp.adapters.schema_check import validate

log = logging.getLogger("offramp.adapters")

_HOP = {"host", "content-length", "transfer-encoding", "connection", "accept-encoding"}
_OPENAI_ONLY = {"authorization", "openai-organization", "openai-project", "api-key"}
_STRIP_RESPONSE = {"content-length", "content-encoding", "transfer-encoding", "connection"}
PRICED_KINDS = {"openai", "deepseek"}


@dataclass
class Outbound:
    """The request the openai SDK built, as the engine sees it."""

    method: str
    path: str  # relative to the client's base_url, no leading slash
    query: str
    headers: dict[str, str]  # lower-case names
    content: bytes
    app_base: str


@dataclass
class Send:
    method: str
    url: str
    headers: dict[str, str]
    content: bytes
    stream: bool


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes = b""
    handle: Any = None  # open upstream response (streams, status 200)
    error: BaseException | None = None  # transport error (connection refused, timeout)


@dataclass
class Sleep:
    seconds: float


@dataclass
class Parallel:
    """Run these sub-steps concurrently (n>1 fan-out); the transport sends back their results as a list, in order.

    Each sub-step is itself a generator of Send/Sleep, driven exactly like the top-level one.
    """

    steps: list[Any]


@dataclass
class Done:
    status: int
    headers: dict[str, str]
    content: bytes
    record: tr.TranslationRecord
    raise_exc: BaseException | None = None
    close: list[Any] = field(default_factory=list)
    failover: bool = False  # retries exhausted or 402: the next backend in the chain may answer


@dataclass
class StreamDone:
    headers: dict[str, str]
    handles: list[Any]
    normalizer: tr.StreamNormalizer
    record: tr.TranslationRecord
    deadline: float
    raw: bool = False  # not Chat Completions (Responses, legacy completions): relayed byte for byte
    json_schema: dict | None = None  # emulated structured output: validated when the stream ends
    shaper: Any = None  # Responses streams: turns upstream lines into the app's events (`line`, `close`, `usage`)


Step = Generator["Send | Sleep | Parallel", "Reply | list | None", Any]


def error_body(message: str, code: str, type_: str = "invalid_request_error", param: str | None = None) -> bytes:
    return json.dumps({"error": {"message": message, "type": type_, "param": param, "code": code}}).encode()


class Engine:
    """One per configured client; holds the config, the hook and the profile cache."""

    def __init__(self, config: OfframpConfig, on_call: Callable[[Any], None] | None = None,
                 reasoning_cache: tr.ReasoningCache | None = None) -> None:
        self.config = config
        self.on_call = on_call
        self.reasoning_cache = reasoning_cache or tr.REASONING_CACHE
        self._profiles: dict[tuple[str, str | None], BackendProfile] = {}
        r = config.responses
        self.conversations = conversations.store_for(r.ttl, r.max_entries, r.sqlite_path(config.path))

    # ------------------------------------------------------------ helpers
    def profile(self, name: str, model: str | None) -> BackendProfile:
        key = (name, model)
        if key not in self._profiles:
            b = self.config.backend(name)
            self._profiles[key] = load_profile(b.kind, model, path=b.profile)
        return self._profiles[key]

    def _log(self, record: tr.TranslationRecord, ch: tr.Change) -> None:
        record.changes.append(ch)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("offramp %s %s %s %s: %s", record.endpoint, record.backend, ch.action, ch.field, ch.detail)

    def _target(self, out: Outbound, cand: Candidate) -> tuple[str, dict[str, str]] | Done:
        """URL and headers for a backend; keys from the environment only, the app's key never leaves OpenAI."""
        backend = self.config.backend(cand.backend)
        headers = {k: v for k, v in out.headers.items() if k not in _HOP}
        key = None
        if backend.api_key_env:
            key = os.environ.get(backend.api_key_env)
            if not key:
                return self._fail(401, f"offramp: environment variable {backend.api_key_env} "
                                  f"(backends.{cand.backend}.api_key_env in {self.config.path}) is not set",
                                  "missing_api_key")
        path, query = out.path, out.query
        if backend.base_url is None and backend.kind == "openai":
            base = out.app_base
        else:
            base = backend.base_url or out.app_base
            path = endpoint_path(path)
            query = "&".join(q for q in query.split("&") if q and not q.startswith("api-version="))
            for h in _OPENAI_ONLY:
                headers.pop(h, None)
        if key:
            headers["authorization"] = f"Bearer {key}"
        url = base.rstrip("/") + "/" + path + (f"?{query}" if query else "")
        return url, headers

    def _fail(self, status: int, message: str, code: str, record: tr.TranslationRecord | None = None,
              param: str | None = None) -> Done:
        rec = record or tr.TranslationRecord()
        rec.status = status
        return Done(status, {"content-type": "application/json"}, error_body(message, code, param=param), rec)

    def _backoff(self, attempt: int, headers: dict[str, str]) -> float:
        ra = headers.get("retry-after-ms")
        if ra:
            try:
                return float(ra) / 1000
            except ValueError:
                pass
        ra = headers.get("retry-after")
        if ra:
            try:
                return max(0.0, float(ra))
            except ValueError:
                try:  # an HTTP date; anything else unparseable falls through to our own backoff
                    return max(0.0, email.utils.parsedate_to_datetime(ra).timestamp() - time.time())
                except (TypeError, ValueError):
                    pass
        r = self.config.retries
        return min(r.backoff_max, r.backoff_base * 2**attempt) * (0.5 + random.random() / 2)

    # ------------------------------------------------------------ the loop
    def exchange(self, out: Outbound) -> Step:
        started = time.time()
        body: Any = None
        if out.content and "json" in out.headers.get("content-type", ""):
            try:
                body = json.loads(out.content)
            except ValueError:
                body = None
        body = body if isinstance(body, dict) else None
        caps = capabilities_of(out.path, body)
        model = body.get("model") if body else None
        if body is None and out.content:
            model = multipart.form_field(out.content, out.headers.get("content-type", ""), "model")
        stream = bool(body and body.get("stream"))
        record = tr.TranslationRecord(endpoint=endpoint_path(out.path), model_requested=model, started_at=started,
                                      stream=stream)
        if caps[0] == "responses" and out.method in ("GET", "DELETE"):
            local = self._stored_response(out, record)
            if local is not None:
                return local
        last: Done | None = None
        cands = candidates(self.config, caps, model, body, out.headers)
        for i, cand in enumerate(cands):
            try:
                profile = self.profile(cand.backend, cand.model)
            except ProfileError as exc:
                return self._fail(400, f"offramp: {exc}", "offramp_profile_error", record)
            record.backend, record.kind, record.family = cand.backend, profile.kind, profile.family
            record.model_sent = cand.model
            self._log(record, tr.Change(action="routed" if i == 0 else "fallback", field="backend",
                                        detail=cand.reason))
            if profile.family == "unknown" and cand.model:
                self._log(record, tr.Change(action="warning", field="model",
                                            detail=f"{cand.model!r} is not a known {profile.kind} model id "
                                            f"(rules/backends/{profile.kind}.toml); translated as the current generation"))
            if profile.until is not None and cand.model and \
                    time.strftime("%Y-%m-%d", time.gmtime(started)) > profile.until.isoformat():
                # A retired id answers 400 (it is no longer an alias): never send it, try the next backend.
                msg = (f"offramp: model {cand.model!r} ({profile.kind}/{profile.family}) was retired on "
                       f"{profile.until.isoformat()} and {profile.kind} answers 400 for it"
                       + (f"; use {profile.replacement!r}" if profile.replacement else ""))
                self._log(record, tr.Change(action="fallback", field="model", detail=msg))
                last = self._fail(400, msg + " ([routes.models] in offramp.toml)", "model_retired", record)
                continue
            if cand.model in profile.aliases:
                self._log(record, tr.Change(action="warning", field="model",
                                            detail=f"{cand.model!r} is a legacy id: {profile.kind} serves and bills "
                                            f"it as {profile.aliases[cand.model]!r} ({profile.family})"))
            missing = [c for c in caps if c not in ("models", "other") and not
                       (profile.responses_mode() is not None if c == "responses" else profile.supports(c))]
            if caps[0] == "other" and profile.kind != "openai":
                missing = ["other"]
            if missing:
                names = [c.backend for c in cands]
                msg = (f"offramp: capability {missing[0]!r} ({record.endpoint}) is not supported by backend "
                       f"{cand.backend!r} ({profile.kind}/{profile.family})")
                self._log(record, tr.Change(action="fallback", field="capability", detail=msg))
                last = self._fail(400, msg + (" and no backend in the fallback chain supports it"
                                              if i == len(cands) - 1 and len(names) > 1 else
                                              "; configure [routes.capabilities] or routes.fallback"),
                                  "unsupported_capability", record)
                continue
            if caps[0] == "responses" and out.method == "POST" and body is not None:
                try:
                    rs.check_builtin_tools(body, profile.builtin_tools,
                                           f"{cand.backend!r} ({profile.kind}/{profile.family})")
                except rs.BuiltinToolError as exc:
                    self._log(record, tr.Change(action="fallback", field="tools", detail=str(exc)))
                    last = self._fail(400, f"offramp: {exc}", exc.code, record, param="tools")
                    continue
                result = yield from self._on_responses(out, cand, profile, body, record)
            else:
                result = yield from self._on_backend(out, cand, profile, body, caps[0], record)
            if isinstance(result, Done) and (result.status == 402 or result.failover):
                self._log(record, tr.Change(action="fallback", field="status",
                                            detail=f"{cand.backend} answered {result.status or 'a connection error'}"
                                            + ("; trying the next backend" if i < len(cands) - 1 else "")))
                last = result
                continue
            return result
        assert last is not None
        return last

    def _on_backend(self, out: Outbound, cand: Candidate, profile: BackendProfile, body: dict | None,
                    cap: str, record: tr.TranslationRecord) -> Step:
        target = self._target(out, cand)
        if isinstance(target, Done):
            target.record = record
            record.status = target.status
            return target
        url, headers = target
        emu = tr.Emulation()
        content = out.content
        if body is not None:
            new = dict(body)
            if cand.model and new.get("model") != cand.model:
                new["model"] = cand.model
            if cap == "chat":
                try:
                    t = tr.translate_chat_request(new, profile, strict=self.config.settings.strict,
                                                  reasoning_cache=self.reasoning_cache)
                except tr.StrictModeError as exc:
                    return self._fail(400, f"offramp: {exc}", "offramp_strict_mode", record)
                except tr.TranslationError as exc:
                    return self._fail(400, f"offramp: {exc}", "offramp_untranslatable", record)
                new, emu = t.body, t.emulation
                for ch in t.changes:
                    self._log(record, ch)
            if new != body:
                content = json.dumps(new).encode()
                headers["content-type"] = "application/json"
        elif cand.model and content and record.model_requested not in (None, cand.model):
            content = multipart.replace_field(content, headers.get("content-type", ""), "model", cand.model)
        stream = bool(body and body.get("stream"))
        if stream:
            return (yield from self._stream(url, headers, content, profile, emu, record, out.method,
                                            raw=cap != "chat"))
        calls = [self._one_call(out.method, url, headers, content, profile, emu, record, cand, cap)
                 for _ in range(emu.fan_out)]
        if len(calls) == 1:
            results = [(yield from calls[0])]
        else:
            results = yield Parallel(calls)
        for result in results:
            if isinstance(result, Done):
                return result
        bodies = [data for data, _ in results]
        merged = tr.merge_fan_out(bodies) if len(bodies) > 1 else bodies[0]
        if emu.legacy_functions:
            self._legacy_reply(merged, record)
        record.status = 200
        self._usage_and_cost(record, merged.get("usage"), profile)
        return Done(200, _resp_headers(results[-1][1].headers), json.dumps(merged).encode(), record)

    # ------------------------------------------------------------ Responses API
    def _stored_response(self, out: Outbound, record: tr.TranslationRecord) -> Done | None:
        """GET/DELETE responses/{id} for a response Offramp stored itself (a stateless backend served it)."""
        m = re.match(r"^responses/([^/?]+)(/input_items)?$", endpoint_path(out.path))
        if m is None:
            return None
        entry = self.conversations.get(m.group(1))
        if entry is None:
            return None
        record.backend, record.status = "offramp", 200
        self._log(record, tr.Change(action="routed", field="backend", detail=f"stored response {m.group(1)} "
                                    f"answered from Offramp's conversation store ({self.conversations.where})"))
        if out.method == "DELETE":
            self.conversations.delete(m.group(1))
            data: dict = {"id": m.group(1), "object": "response.deleted", "deleted": True}
        elif m.group(2):
            items = [_listed_item(i, f"{m.group(1)}_in{n}") for n, i in enumerate(entry.get("input") or [])]
            data = {"object": "list", "data": items[::-1], "first_id": items[-1]["id"] if items else None,
                    "last_id": items[0]["id"] if items else None, "has_more": False}
        else:
            data = entry["response"]
        return Done(200, {"content-type": "application/json"}, json.dumps(data).encode(), record)

    def _on_responses(self, out: Outbound, cand: Candidate, profile: BackendProfile, body: dict,
                      record: tr.TranslationRecord) -> Step:
        """A Responses call: sent natively where the profile says the backend serves it, else translated to Chat
        Completions and back; `previous_response_id` expanded from (and the result kept in) the local store when
        the backend keeps no state."""
        where = f"{cand.backend!r} ({profile.kind}/{profile.family})"
        prev = body.get("previous_response_id")
        history = None
        if prev:
            entry = self.conversations.get(str(prev))
            if entry is not None:
                history = entry["items"]
            elif not profile.responses_stateful:
                c = self.config.responses
                return self._fail(400, f"offramp: previous_response_id {prev!r} is not in Offramp's conversation "
                                  f"store ({self.conversations.where}, ttl {c.ttl:g}s; [responses] in offramp.toml): "
                                  "it expired, was created with store=false or by another process, and backend "
                                  f"{where} keeps no responses", "previous_response_not_found", record,
                                  param="previous_response_id")
        mode = profile.responses_mode()
        try:
            if not profile.responses_stateful:
                rs.check_unsupported(body, where)
            if mode == "native":
                new, notes = rs.native_request(body, profile, history)
            else:
                new, notes = rs.to_chat(body, history)
            turn = [*(history or []), *rs.input_items(body.get("input"))]
        except rs.ResponsesError as exc:
            return self._fail(400, f"offramp: {exc}", exc.code, record, param=exc.param)
        if mode == "chat":
            self._log(record, tr.Change(action="translated", field="api", detail=f"Responses → Chat Completions: "
                                        f"{where} has no native Responses API (rules/backends/{profile.kind}.toml)"))
        for note in notes:
            field_, _, detail = note.partition(": ")
            lossy = detail.endswith("not sent")
            if lossy and self.config.settings.strict:
                return self._fail(400, f"offramp: strict mode: {field_}: {detail} (backend {where}); remove the "
                                  "parameter or turn strict off", "offramp_strict_mode", record, param=field_)
            self._log(record, tr.Change(action="dropped" if lossy else "translated", field=field_, detail=detail,
                                        lossy=lossy))
        keep = body.get("store", True) is not False and (not profile.responses_stateful or history is not None)

        def finished(resp: dict) -> None:
            if keep and isinstance(resp, dict) and resp.get("id"):
                self.conversations.put(resp["id"], {"items": turn + rs.output_as_input(resp.get("output") or []),
                                                    "input": rs.input_items(body.get("input")), "response": resp})

        def patch(resp: dict) -> dict:
            resp["previous_response_id"] = prev
            resp["store"] = body.get("store", True) is not False
            return resp

        path = "chat/completions" if mode == "chat" else out.path
        sent = Outbound(out.method, path, out.query, out.headers, json.dumps(new).encode(), out.app_base)
        result = yield from self._on_backend(sent, cand, profile, new, "chat" if mode == "chat" else "responses",
                                             record)
        if isinstance(result, StreamDone):
            result.raw = False
            result.shaper = (_ChatToResponsesRelay(body, finished) if mode == "chat"
                             else _NativeResponsesRelay(patch, finished))
            return result
        if result.status != 200 or result.raise_exc is not None:
            return result
        try:
            data = json.loads(result.content)
        except ValueError:
            return result
        resp = patch(rs.from_chat(data, body) if mode == "chat" else data)
        finished(resp)
        result.content = json.dumps(resp).encode()
        return result

    def _one_call(self, method: str, url: str, headers: dict[str, str], content: bytes, profile: BackendProfile,
                  emu: tr.Emulation, record: tr.TranslationRecord, cand: Candidate, cap: str) -> Step:
        """One backend call of a (possibly fanned-out) request, with the schema check and its one retry.

        Returns (normalised body, reply) or a Done to hand back as is (an error, or a non-chat answer)."""
        for json_try in range(2 if emu.json_retry else 1):
            reply = yield from self._attempt(method, url, headers, content, False, profile, record,
                                             check_finish=cap == "chat")
            if not isinstance(reply, Reply):
                return reply
            if reply.status != 200 or cap != "chat":
                return self._finish_plain(reply, profile, record)
            data = tr.normalize_chat_response(json.loads(reply.body), profile,
                                              reasoning_cache=self.reasoning_cache)
            problem = _json_problem(data, emu.json_schema) if emu.json_schema is not None else None
            if problem is None:
                if emu.require_tool_call and not _has_tool_call(data):
                    self._log(record, tr.Change(action="warning", field="tool_choice",
                                                detail="the app forced a tool call; the backend answered "
                                                "without one", lossy=True))
                return data, reply
            if json_try == 0:
                self._log(record, tr.Change(action="retried", field="response_format",
                                            detail=f"reply not valid against the schema ({problem}); retrying once"))
                continue
            return self._fail(422, f"offramp: {cand.backend} ({profile.kind}/{profile.family}) returned "
                              f"content that does not match the requested JSON schema after 1 retry: {problem}",
                              "offramp_schema_mismatch", record)
        raise AssertionError("unreachable")

    def _legacy_reply(self, body: dict, record: tr.TranslationRecord) -> None:
        """functions= was sent as tools: answer in the legacy shape, and remember reasoning under the stable id the
        app's next turn will carry (legacy calls have no id of their own)."""
        dropped = tr.legacy_function_response(body)
        for ch in body.get("choices") or []:
            msg = ch.get("message") or {}
            fc = msg.get("function_call")
            if isinstance(fc, dict) and isinstance(msg.get("reasoning_content"), str):
                self.reasoning_cache.put([tr.legacy_call_id(fc.get("name") or "", fc.get("arguments") or "")],
                                         msg["reasoning_content"])
        if dropped:
            self._log(record, tr.Change(action="dropped", field="tool_calls",
                                        detail=f"{dropped} further call(s): a legacy function_call holds one",
                                        lossy=True))

    def _finish_plain(self, reply: Reply, profile: BackendProfile, record: tr.TranslationRecord) -> Done:
        record.status = reply.status
        if reply.status == 200 and "json" in reply.headers.get("content-type", ""):
            try:
                usage = json.loads(reply.body).get("usage")
            except (ValueError, AttributeError):
                usage = None
            self._usage_and_cost(record, usage, profile)
        return Done(reply.status, _resp_headers(reply.headers), reply.body, record)

    def _attempt(self, method: str, url: str, headers: dict[str, str], content: bytes, stream: bool,
                 profile: BackendProfile, record: tr.TranslationRecord, check_finish: bool = False) -> Step:
        """One backend, with retries on 429/500/503, connection errors and failed finish reasons."""
        r = self.config.retries
        for attempt in range(r.max + 1):
            reply = yield Send(method, url, headers, content, stream)
            assert isinstance(reply, Reply)
            record.attempts += 1
            reason = None
            if reply.error is not None:
                reason = f"{type(reply.error).__name__}"
            elif reply.status in r.on_status:
                rejected = _rejection(reply, profile)
                if rejected is not None:
                    self._log(record, tr.Change(action="translated", field="status", detail=(
                        f"HTTP {reply.status} → 400: {profile.kind} rejected the request itself; not retried")))
                    return Reply(400, {"content-type": "application/json"},
                                 error_body(f"{record.backend}: {rejected}", "invalid_request_error"))
                reason = f"HTTP {reply.status}"
            elif check_finish and not stream and reply.status == 200 and profile.retryable_finish_reasons:
                try:
                    failed = tr.failed_finish_reason(json.loads(reply.body), profile)
                except ValueError:
                    failed = None
                if failed:
                    reason = f"finish_reason {failed}"
                    reply = Reply(503, {"content-type": "application/json"},
                                  error_body(f"offramp: {record.backend} stopped with finish_reason {failed!r} "
                                             "(generation failed for lack of capacity)", failed, "server_error"))
            if reason is None:
                return reply
            delay = self._backoff(attempt, reply.headers)
            if attempt >= r.max or delay > r.retry_after_max:
                done = self._fail_reply(reply, record)
                done.failover = True
                return done
            self._log(record, tr.Change(action="retried", field="status",
                                        detail=f"{reason}; retry {attempt + 1}/{r.max} in {delay:.2f}s"))
            yield Sleep(delay)
        raise AssertionError("unreachable")

    def _fail_reply(self, reply: Reply, record: tr.TranslationRecord) -> Done:
        record.status = reply.status or None
        if reply.error is not None:
            return Done(0, {}, b"", record, raise_exc=reply.error)
        return Done(reply.status, _resp_headers(reply.headers), reply.body, record)

    def _stream(self, url: str, headers: dict[str, str], content: bytes, profile: BackendProfile,
                emu: tr.Emulation, record: tr.TranslationRecord, method: str, raw: bool = False) -> Step:
        opens = [self._attempt(method, url, headers, content, True, profile, record) for _ in range(emu.fan_out)]
        if len(opens) == 1:
            replies = [(yield from opens[0])]
        else:
            replies = yield Parallel(opens)  # n streams opened at once; relayed one after another
        handles = [r.handle for r in replies if isinstance(r, Reply) and r.status == 200]
        for reply in replies:
            if not isinstance(reply, Reply):
                reply.close = handles
                return reply
            if reply.status != 200:
                done = self._fail_reply(reply, record)
                done.close = handles
                return done
        record.status = 200
        norm = tr.StreamNormalizer(profile, app_wants_usage=emu.app_wants_usage, reasoning_cache=self.reasoning_cache,
                                   legacy_functions=emu.legacy_functions,
                                   collect_content=emu.json_schema is not None)
        headers_out = _resp_headers(replies[-1].headers)
        return StreamDone(headers_out, handles, norm, record, time.monotonic() + self.config.timeouts.stream_total,
                          raw=raw, json_schema=emu.json_schema)

    # ------------------------------------------------------------ completion
    def _usage_and_cost(self, record: tr.TranslationRecord, usage: Any, profile: BackendProfile) -> None:
        if not isinstance(usage, dict):
            return
        record.usage = usage
        if profile.kind in PRICED_KINDS and record.model_sent:
            from datetime import datetime, timezone

            from offramp.adapters.cost import PriceNotFound, cost_of
            try:
                record.cost = cost_of(profile.kind, record.model_sent, usage,
                                      datetime.fromtimestamp(record.started_at, timezone.utc))
            except PriceNotFound:
                record.cost = None

    def finish(self, record: tr.TranslationRecord) -> None:
        """Called once per app call (after the stream ends for streams): duration, hooks."""
        from offramp.adapters import hooks

        record.duration_s = time.time() - record.started_at
        hooks.emit(record, self.on_call)

    def stream_finished(self, sd: StreamDone) -> None:
        profile = self.profile(sd.record.backend, sd.record.model_sent)
        self._usage_and_cost(sd.record, sd.shaper.usage if sd.shaper is not None else sd.normalizer.usage, profile)
        self.finish(sd.record)


def _listed_item(item: dict, fallback_id: str) -> dict:
    """A stored input item as `input_items.list` shows it: with an id and, for messages, content parts."""
    out = {"id": item.get("id") or fallback_id, **item}
    if out.get("type", "message") == "message":
        out["type"] = "message"
        if isinstance(out.get("content"), str):
            kind = "output_text" if out.get("role") == "assistant" else "input_text"
            out["content"] = [{"type": kind, "text": out["content"]}]
    return out


def _resp_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k not in _STRIP_RESPONSE}


def _rejection(reply: Reply, profile: BackendProfile) -> str | None:
    """The backend's own message when a 5xx is really a rejection of the request (profile.rejections_as_5xx)."""
    if reply.status < 500 or not profile.rejections_as_5xx:
        return None
    try:
        err = json.loads(reply.body).get("error")
        message = err.get("message") if isinstance(err, dict) else None
    except (ValueError, AttributeError):
        return None
    if isinstance(message, str) and any(word in message for word in profile.rejections_as_5xx):
        return " ".join(message.split())[:300]
    return None


def _has_tool_call(data: dict) -> bool:
    return any((ch.get("message") or {}).get("tool_calls") for ch in data.get("choices") or [])


def _json_problem(data: dict, schema: dict) -> str | None:
    for ch in data.get("choices") or []:
        msg = ch.get("message") or {}
        if msg.get("tool_calls"):
            continue
        content = msg.get("content")
        if not isinstance(content, str) or not content.strip():
            return "blank content"
        text = content.strip()
        if text.startswith("```"):
            text = text.strip("`").removeprefix("json").strip()
        try:
            value = json.loads(text)
        except ValueError as exc:
            return f"not JSON ({exc.msg} at char {exc.pos})"
        errors = validate(value, schema)
        if errors:
            return "; ".join(errors)
        if text != content:
            msg["content"] = text
    return None


def stream_error_event(message: str, code: str) -> bytes:
    return b"data: " + json.dumps({"error": {"message": message, "type": "server_error", "code": code}}).encode() \
        + b"\n\n"


def relay_line(line: str, sd: StreamDone) -> list[bytes] | None:
    """One upstream SSE line → SSE bytes for the app; None at `[DONE]`. Comments and blank lines vanish."""
    if sd.shaper is not None:
        return sd.shaper.line(line, sd)
    if not line or line.startswith(":"):
        return []
    if not line.startswith("data:"):
        return []  # event:/id:/retry: fields carry nothing the SDK uses for chat
    data = line[5:].strip()
    if data == "[DONE]":
        return None
    try:
        chunk = json.loads(data)
    except ValueError:
        return []
    if isinstance(chunk, dict) and chunk.get("error"):
        return [b"data: " + data.encode() + b"\n\n"]
    out = [b"data: " + json.dumps(c).encode() + b"\n\n" for c in sd.normalizer.feed(chunk)]
    if sd.normalizer.failed_reason:
        out.append(stream_error_event(
            f"offramp: {sd.record.backend} stopped the stream with finish_reason "
            f"{sd.normalizer.failed_reason!r} (generation failed for lack of capacity); retry the call",
            sd.normalizer.failed_reason))
    return out


def stream_schema_problem(sd: StreamDone) -> str | None:
    """Emulated structured output on a stream: validate each choice's whole content once the stream has ended.
    Chunks already reached the app, so there is no retry; the app gets an error instead of a silent bad reply."""
    norm = sd.normalizer
    if sd.json_schema is None:
        return None
    indexes = sorted(set(norm.content) | set(range(max(norm.choices_seen, 1))))
    for idx in indexes:
        if idx in norm.tool_choices:
            continue
        text = "".join(norm.content.get(idx, []))
        fake = {"choices": [{"message": {"content": text}}]}
        problem = _json_problem(fake, sd.json_schema)
        if problem is not None:
            return f"choice {idx}: {problem}" if len(indexes) > 1 else problem
    return None


def closing_events(sd: StreamDone) -> list[bytes]:
    if sd.shaper is not None:
        return sd.shaper.close(sd)
    events = [b"data: " + json.dumps(c).encode() + b"\n\n" for c in sd.normalizer.finish()]
    if sd.normalizer.dropped_calls:
        sd.record.changes.append(tr.Change(action="dropped", field="tool_calls", lossy=True,
                                           detail=f"{sd.normalizer.dropped_calls} further call(s): a legacy "
                                           "function_call holds one"))
    problem = stream_schema_problem(sd)
    if problem is not None:
        p = sd.record
        msg = (f"offramp: {p.backend} ({p.kind}/{p.family}) streamed content that does not match the requested "
               f"JSON schema: {problem} (a stream cannot be retried once chunks were delivered; use a non-streamed "
               "call to get the automatic retry)")
        p.changes.append(tr.Change(action="warning", field="response_format", detail=msg, lossy=True))
        log.debug("offramp %s %s warning response_format: %s", p.endpoint, p.backend, msg)
        return events + [stream_error_event(msg, "offramp_schema_mismatch")]
    return events + [b"data: [DONE]\n\n"]


def _schema_event(sd: StreamDone) -> list[bytes]:
    problem = stream_schema_problem(sd)
    if problem is None:
        return []
    p = sd.record
    msg = (f"offramp: {p.backend} ({p.kind}/{p.family}) streamed content that does not match the requested "
           f"JSON schema: {problem} (a stream cannot be retried once chunks were delivered; use a non-streamed "
           "call to get the automatic retry)")
    p.changes.append(tr.Change(action="warning", field="response_format", detail=msg, lossy=True))
    return [stream_error_event(msg, "offramp_schema_mismatch")]


class _ChatToResponsesRelay:
    """A chat stream (normalised like any other) relayed as Responses events (`responses = "chat"` backends)."""

    def __init__(self, req: dict, finished: Callable[[dict], None]) -> None:
        self.conv = rs.ChatStreamToResponses(req)
        self.finished = finished
        self.usage: dict | None = None

    def _events(self, chunks: list[dict]) -> list[bytes]:
        return [rs.sse(name, data) for c in chunks for name, data in self.conv.feed(c)]

    def line(self, line: str, sd: StreamDone) -> list[bytes] | None:
        if not line.startswith("data:"):
            return []
        data = line[5:].strip()
        if data == "[DONE]":
            return None
        try:
            chunk = json.loads(data)
        except ValueError:
            return []
        if isinstance(chunk, dict) and chunk.get("error"):
            return [b"data: " + data.encode() + b"\n\n"]
        out = self._events(sd.normalizer.feed(chunk)) if isinstance(chunk, dict) else []
        if sd.normalizer.failed_reason:
            out.append(stream_error_event(
                f"offramp: {sd.record.backend} stopped the stream with finish_reason "
                f"{sd.normalizer.failed_reason!r} (generation failed for lack of capacity); retry the call",
                sd.normalizer.failed_reason))
        return out

    def close(self, sd: StreamDone) -> list[bytes]:
        out = self._events(sd.normalizer.finish())
        bad = _schema_event(sd)
        if bad:
            return out + bad
        out += [rs.sse(name, data) for name, data in self.conv.finish()]
        self.usage = sd.normalizer.usage
        if self.conv.response is not None:
            self.finished(self.conv.response)
        return out


class _NativeResponsesRelay:
    """A backend's own Responses stream, relayed event by event: the final response is kept for chaining."""

    _LIFECYCLE = ("response.created", "response.in_progress", "response.completed", "response.incomplete",
                  "response.failed", "response.queued")

    def __init__(self, patch: Callable[[dict], dict], finished: Callable[[dict], None]) -> None:
        self.patch, self.finished = patch, finished
        self.event: str | None = None
        self.usage: dict | None = None

    def line(self, line: str, sd: StreamDone) -> list[bytes] | None:
        if line.startswith("event:"):
            self.event = line[6:].strip()
            return []
        if not line.startswith("data:"):
            return []
        data = line[5:].strip()
        if data == "[DONE]":
            return None
        try:
            ev = json.loads(data)
        except ValueError:
            return []
        name = (ev.get("type") if isinstance(ev, dict) else None) or self.event
        self.event = None
        if not isinstance(ev, dict) or not name:
            return [b"data: " + data.encode() + b"\n\n"]
        if name in self._LIFECYCLE and isinstance(ev.get("response"), dict):
            self.patch(ev["response"])
            if name in ("response.completed", "response.incomplete"):
                self.usage = ev["response"].get("usage")
                self.finished(ev["response"])
        return [rs.sse(name, ev)]

    def close(self, sd: StreamDone) -> list[bytes]:
        return []
