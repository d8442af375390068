"""Stateful platform objects: files, fine-tuning jobs and batches (kept in memory per server).

Jobs and batches advance one status step each time they are retrieved, so a client's polling loop reaches a
terminal state in a few calls without real time passing. A completed batch really runs its chat lines."""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from offramp.migrate.fake_upstream import chat, synth
from offramp.migrate.fake_upstream.errors import ApiError
from offramp.migrate.fake_upstream.http import intake, json_response
from offramp.migrate.fake_upstream.state import ServerState

FILE_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")


def _page(items: list[dict], query: Any) -> dict:
    limit = int(query.get("limit", 20) or 20)
    after = query.get("after")
    if after:
        ids = [i["id"] for i in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    page = items[:limit]
    return {
        "object": "list",
        "data": page,
        "has_more": len(items) > limit,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
    }


def _public(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if not k.startswith("_")}


# --- files ---------------------------------------------------------------------------------------------------


def store_file(state: ServerState, filename: str, data: bytes, purpose: str) -> dict:
    fid = state.next_id("file")
    state.file_bytes[fid] = data
    return state.put(
        "files",
        {
            "id": fid,
            "object": "file",
            "bytes": len(data),
            "created_at": int(time.time()),
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
            "status_details": None,
            "expires_at": None,
        },
    )


async def create_file(request: web.Request) -> web.StreamResponse:
    got = await intake(request, "files")
    form = got.body if isinstance(got.body, dict) else {}
    upload, purpose = form.get("file"), form.get("purpose")
    if not isinstance(upload, dict):
        raise ApiError(400, "'file' is required (multipart/form-data)", param="file")
    allowed = ("user_data",) if got.state.flavor.name == "deepseek" else FILE_PURPOSES
    if purpose not in allowed:
        raise ApiError(
            400, f"Invalid value: '{purpose}'. Supported values are: {', '.join(allowed)}.", param="purpose"
        )
    data = upload["_bytes"]
    if purpose in ("batch", "fine-tune"):
        for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            if line.strip():
                try:
                    json.loads(line)
                except ValueError:
                    raise ApiError(
                        400,
                        f"Invalid file format: line {n} of {upload['filename']} is not valid JSON",
                        param="file",
                    ) from None
    return json_response(got.state, store_file(got.state, upload["filename"], data, purpose), fault=got.fault)


def _file(state: ServerState, fid: str) -> dict:
    obj = state.get("files", fid)
    if obj is None:
        raise ApiError(404, f"No such File object: {fid}", param="id")
    return obj


async def list_files(request: web.Request) -> web.StreamResponse:
    got = await intake(request, "files")
    items = list(got.state.store.get("files", {}).values())
    if request.query.get("purpose"):
        items = [i for i in items if i["purpose"] == request.query["purpose"]]
    return json_response(got.state, _page(items, request.query), fault=got.fault)


async def retrieve_file(request: web.Request) -> web.StreamResponse:
    got = await intake(request, "files")
    return json_response(got.state, _file(got.state, request.match_info["fid"]), fault=got.fault)


async def file_content(request: web.Request) -> web.StreamResponse:
    got = await intake(request, "files")
    fid = request.match_info["fid"]
    _file(got.state, fid)
    return web.Response(body=got.state.file_bytes[fid], content_type="application/octet-stream")


async def delete_file(request: web.Request) -> web.StreamResponse:
    got = await intake(request, "files")
    fid = request.match_info["fid"]
    _file(got.state, fid)
    got.state.store["files"].pop(fid)
    got.state.file_bytes.pop(fid, None)
    return json_response(got.state, {"id": fid, "object": "file", "deleted": True}, fault=got.fault)


# --- fine-tuning ---------------------------------------------------------------------------------------------

_JOB_STEPS = ("validating_files", "queued", "running", "succeeded")


async def create_job(request: web.Request) -> web.StreamResponse:
    got = await intake(request, "fine_tuning")
    body = got.body if isinstance(got.body, dict) else {}
    if not body.get("model"):
        raise ApiError(400, "'model' is required", param="model")
    training = body.get("training_file")
    if not training or got.state.get("files", training) is None:
        raise ApiError(400, f"invalid training_file: {training}", param="training_file")
    job_id = got.state.next_id("ftjob")
    job = got.state.put(
        "jobs",
        {
            "id": job_id,
            "object": "fine_tuning.job",
            "model": body["model"],
            "created_at": int(time.time()),
            "status": _JOB_STEPS[0],
            "training_file": training,
            "validation_file": body.get("validation_file"),
            "hyperparameters": {
                "n_epochs": "auto",
                "batch_size": "auto",
                "learning_rate_multiplier": "auto",
                **(body.get("hyperparameters") or {}),
            },
            "fine_tuned_model": None,
            "finished_at": None,
            "organization_id": "org-fake",
            "result_files": [],
            "trained_tokens": None,
            "error": None,
            "seed": body.get("seed", 0),
            "suffix": body.get("suffix"),
            "estimated_finish": None,
            "integrations": [],
            "metadata": body.get("metadata"),
            "method": body.get("method") or {"type": "supervised"},
            "user_provided_suffix": body.get("suffix"),
            "_events": [_event(job_id, 0, "Created fine-tuning job")],
        },
    )
    return json_response(got.state, _public(job), fault=got.fault)


def _event(job_id: str, n: int, message: str) -> dict:
    return {
        "id": f"ftevent-{synth.digest(job_id, n):016x}",
        "object": "fine_tuning.job.event",
        "created_at": int(time.time()),
        "level": "info",
        "message": message,
        "data": {},
        "type": "message",
    }


def _job(state: ServerState, job_id: str) -> dict:
    job = state.get("jobs", job_id)
    if job is None:
        raise ApiError(404, f"Could not find fine-tune job: {job_id}", param="fine_tuning_job_id")
    return job


async def retrieve_job(request: web.Request) -> web.StreamResponse:
    got = await intake(request, "fine_tuning")
    job = _job(got.state, request.match_info["jid"])
    if job["status"] in _JOB_STEPS[:-1]:
        job["status"] = _JOB_STEPS[_JOB_STEPS.index(job["status"]) + 1]
        job["_events"].append(_event(job["id"], len(job["_events"]), f"Job is {job['status']}"))
        if job["status"] == "succeeded":
            job["fine_tuned_model"] = f"ft:{job['model']}:fake::{job['id'][-8:]}"
            job["finished_at"] = int(time.time())
            job["trained_tokens"] = 1000
    return json_response(got.state, _public(job), fault=got.fault)


async def list_jobs(request: web.Request) -> web.StreamResponse:
    got = await intake(request, "fine_tuning")
    items = [_public(j) for j in got.state.store.get("jobs", {}).values()]
    return json_response(got.state, _page(items, request.query), fault=got.fault)


async def cancel_job(request: web.Request) -> web.StreamResponse:
    got = await intake(request, "fine_tuning")
    job = _job(got.state, request.match_info["jid"])
    if job["status"] in ("succeeded", "failed", "cancelled"):
        raise ApiError(400, f"Job {job['id']} is already {job['status']} and cannot be cancelled")
    job["status"] = "cancelled"
    job["_events"].append(_event(job["id"], len(job["_events"]), "Job was cancelled"))
    return json_response(got.state, _public(job), fault=got.fault)


async def job_events(request: web.Request) -> web.StreamResponse:
    got = await intake(request, "fine_tuning")
    job = _job(got.state, request.match_info["jid"])
    return json_response(got.state, _page(list(reversed(job["_events"])), request.query), fault=got.fault)


# --- batches -------------------------------------------------------------------------------------------------

_BATCH_STEPS = ("validating", "in_progress", "finalizing", "completed")
_BATCH_ENDPOINTS = ("/v1/chat/completions", "/v1/embeddings", "/v1/completions", "/v1/responses")


async def create_batch(request: web.Request) -> web.StreamResponse:
    got = await intake(request, "batches")
    body = got.body if isinstance(got.body, dict) else {}
    if body.get("endpoint") not in _BATCH_ENDPOINTS:
        raise ApiError(
            400,
            f"Invalid value: '{body.get('endpoint')}'. Supported values are: {', '.join(_BATCH_ENDPOINTS)}.",
            param="endpoint",
        )
    if body.get("completion_window") != "24h":
        raise ApiError(
            400, "Invalid value for 'completion_window': only '24h' is supported.", param="completion_window"
        )
    source = got.state.get("files", body.get("input_file_id") or "")
    if source is None or source["purpose"] != "batch":
        raise ApiError(
            400,
            f"invalid input_file_id: {body.get('input_file_id')} (a file with purpose 'batch')",
            param="input_file_id",
        )
    lines = [ln for ln in got.state.file_bytes[source["id"]].decode().splitlines() if ln.strip()]
    batch = got.state.put(
        "batches",
        {
            "id": got.state.next_id("batch").replace("batch-", "batch_"),
            "object": "batch",
            "endpoint": body["endpoint"],
            "errors": None,
            "input_file_id": source["id"],
            "completion_window": "24h",
            "status": _BATCH_STEPS[0],
            "output_file_id": None,
            "error_file_id": None,
            "created_at": int(time.time()),
            "in_progress_at": None,
            "expires_at": int(time.time()) + 86400,
            "finalizing_at": None,
            "completed_at": None,
            "failed_at": None,
            "expired_at": None,
            "cancelling_at": None,
            "cancelled_at": None,
            "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
            "metadata": body.get("metadata"),
        },
    )
    return json_response(got.state, batch, fault=got.fault)


def _run_batch(state: ServerState, batch: dict) -> None:
    """Answer every chat line with the same engine as the live endpoint."""
    flavor, opts = state.flavor, state.options
    out, errors = [], []
    for n, line in enumerate(state.file_bytes[batch["input_file_id"]].decode().splitlines()):
        if not line.strip():
            continue
        req = json.loads(line)
        custom_id = req.get("custom_id")
        try:
            if req.get("url") != "/v1/chat/completions":
                raise ApiError(400, f"the fake runs chat lines only, not {req.get('url')}")
            body = req.get("body") or {}
            model = chat.resolve_model(flavor, opts, body.get("model"))
            thinking = chat.thinking_enabled(flavor, opts, model, body)
            chat.validate(flavor, opts, body, model, thinking)
            draw = state.draw("/v1/chat/completions", json.dumps(body, sort_keys=True).encode())
            choices = chat.answer(flavor, opts, body, thinking, draw)
            usage = chat.usage(flavor, body, choices, state.cache, model)
            result = chat.completion_body(flavor, body, model, choices, usage, draw, thinking)
            out.append(
                {
                    "id": f"batch_req_{synth.digest(batch['id'], n):016x}",
                    "custom_id": custom_id,
                    "response": {
                        "status_code": 200,
                        "request_id": f"req_{draw.request_key:016x}",
                        "body": result,
                    },
                    "error": None,
                }
            )
        except ApiError as err:
            errors.append(
                {
                    "id": f"batch_req_{synth.digest(batch['id'], n):016x}",
                    "custom_id": custom_id,
                    "response": {
                        "status_code": err.status,
                        "request_id": "",
                        "body": {
                            "error": {
                                "message": err.message,
                                "type": "invalid_request_error",
                                "param": err.param,
                                "code": err.code,
                            }
                        },
                    },
                    "error": None,
                }
            )
    jsonl = "".join(json.dumps(o) + "\n" for o in out).encode()
    batch["output_file_id"] = store_file(state, f"{batch['id']}_output.jsonl", jsonl, "batch_output")["id"]
    if errors:
        err_jsonl = "".join(json.dumps(o) + "\n" for o in errors).encode()
        batch["error_file_id"] = store_file(state, f"{batch['id']}_error.jsonl", err_jsonl, "batch_output")[
            "id"
        ]
    batch["request_counts"] = {"total": len(out) + len(errors), "completed": len(out), "failed": len(errors)}


def _batch(state: ServerState, batch_id: str) -> dict:
    batch = state.get("batches", batch_id)
    if batch is None:
        raise ApiError(404, f"No batch found with id '{batch_id}'.", param="batch_id")
    return batch


async def retrieve_batch(request: web.Request) -> web.StreamResponse:
    got = await intake(request, "batches")
    batch = _batch(got.state, request.match_info["bid"])
    now = int(time.time())
    if batch["status"] == "cancelling":
        batch["status"], batch["cancelled_at"] = "cancelled", now
    elif batch["status"] in _BATCH_STEPS[:-1]:
        batch["status"] = _BATCH_STEPS[_BATCH_STEPS.index(batch["status"]) + 1]
        batch[f"{batch['status']}_at"] = now
        if batch["status"] == "completed":
            _run_batch(got.state, batch)
    return json_response(got.state, batch, fault=got.fault)


async def list_batches(request: web.Request) -> web.StreamResponse:
    got = await intake(request, "batches")
    return json_response(
        got.state, _page(list(got.state.store.get("batches", {}).values()), request.query), fault=got.fault
    )


async def cancel_batch(request: web.Request) -> web.StreamResponse:
    got = await intake(request, "batches")
    batch = _batch(got.state, request.match_info["bid"])
    if batch["status"] in ("completed", "failed", "expired", "cancelled"):
        raise ApiError(409, f"Cannot cancel a batch with status '{batch['status']}'.")
    batch["status"], batch["cancelling_at"] = "cancelling", int(time.time())
    return json_response(got.state, batch, fault=got.fault)


def add_routes(app: web.Application, prefix: str) -> None:
    r = app.router
    r.add_post(f"{prefix}/files", create_file)
    r.add_get(f"{prefix}/files", list_files)
    r.add_get(f"{prefix}/files/{{fid}}", retrieve_file)
    r.add_get(f"{prefix}/files/{{fid}}/content", file_content)
    r.add_delete(f"{prefix}/files/{{fid}}", delete_file)
    r.add_post(f"{prefix}/fine_tuning/jobs", create_job)
    r.add_get(f"{prefix}/fine_tuning/jobs", list_jobs)
    r.add_get(f"{prefix}/fine_tuning/jobs/{{jid}}", retrieve_job)
    r.add_post(f"{prefix}/fine_tuning/jobs/{{jid}}/cancel", cancel_job)
    r.add_get(f"{prefix}/fine_tuning/jobs/{{jid}}/events", job_events)
    r.add_post(f"{prefix}/batches", create_batch)
    r.add_get(f"{prefix}/batches", list_batches)
    r.add_get(f"{prefix}/batches/{{bid}}", retrieve_batch)
    r.add_post(f"{prefix}/batches/{{bid}}/cancel", cancel_batch)
