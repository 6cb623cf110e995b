"""Background jobs (siting runs): a small thread pool and the job-status endpoint.

A long analysis is submitted with ``POST`` (the route answers ``202 Accepted``
with ``Location: /jobs/{id}``); the client polls ``GET /jobs/{id}`` until the
status is ``succeeded`` or ``failed``.  Jobs live in memory (the newest
:data:`MAX_JOBS` are kept): they are recomputable results, not records.
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel

from app.errors import status_for
from app.routes._deps import get_state
from app.routes._models import Link
from app.routes.collections import known_query
from geo._errors import NotFoundError, PlannerError

MAX_JOBS = 200
JobStatusName = Literal["queued", "running", "succeeded", "failed"]

_MEDIA_TYPES = {
    ".gpkg": "application/geopackage+sqlite3",
    ".csv": "text/csv",
    ".geojson": "application/geo+json",
    ".html": "text/html",
}


def _media_type(path: str) -> str:
    return _MEDIA_TYPES.get(PurePath(path).suffix.lower(), "application/octet-stream")


router = APIRouter(tags=["jobs"], dependencies=[Depends(known_query)])


@dataclass
class Job:
    """One background job."""

    id: str
    kind: str
    params: dict[str, Any]
    status: JobStatusName = "queued"
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    artefacts: dict[str, Any] = field(default_factory=dict)


class JobManager:
    """Run jobs on a thread pool and remember their outcome.

    Parameters
    ----------
    workers : int
        Threads running jobs at the same time.
    """

    def __init__(self, workers: int = 1) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="job")
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()

    def submit(
        self,
        kind: str,
        params: dict[str, Any],
        fn: Callable[[Job], dict[str, Any]],
        artefacts: dict[str, Any] | None = None,
    ) -> Job:
        """Queue ``fn(job)``; its return value becomes ``job.result``.

        ``artefacts['dir']``, if given, is the job's working directory: it is deleted
        when the job is forgotten.
        """
        job = Job(id=uuid.uuid4().hex, kind=kind, params=params,
                  artefacts=dict(artefacts or {}))
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > MAX_JOBS:
                _, old = self._jobs.popitem(last=False)
                _forget(old)
        self._pool.submit(self._run, job, fn)
        return job

    def _run(self, job: Job, fn: Callable[[Job], dict[str, Any]]) -> None:
        job.status = "running"
        job.started = time.time()
        try:
            job.result = fn(job)
            job.status = "succeeded"
        except PlannerError as exc:
            job.error = {
                "type": "about:blank",
                "title": type(exc).__name__,
                "status": status_for(exc),
                "detail": str(exc.args[0]) if exc.args else str(exc),
            }
            job.status = "failed"
        except Exception as exc:  # a job must never die silently
            job.error = {
                "type": "about:blank",
                "title": "Internal error",
                "status": 500,
                "detail": f"{type(exc).__name__}: {exc}",
            }
            job.status = "failed"
        finally:
            job.finished = time.time()

    def get(self, job_id: str) -> Job:
        """Return a job.

        Raises
        ------
        NotFoundError
            No such job (or it was forgotten).
        """
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"job {job_id!r} not found")
        return job

    def wait(self, job_id: str, timeout: float = 60.0) -> Job:
        """Block until a job finishes (for tests and scripts)."""
        end = time.time() + timeout
        job = self.get(job_id)
        while job.status in ("queued", "running") and time.time() < end:
            time.sleep(0.05)
        return job

    def shutdown(self) -> None:
        """Stop accepting jobs, let the running ones finish, delete the jobs' files."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            for job in self._jobs.values():
                _forget(job)


def _forget(job: Job) -> None:
    """Delete a job's working directory (its files)."""
    directory = job.artefacts.get("dir")
    if directory:
        shutil.rmtree(directory, ignore_errors=True)


class JobState(BaseModel):
    """Status (and, once finished, result or error) of a background job."""

    id: str
    kind: str
    status: JobStatusName
    params: dict[str, Any]
    created: str
    started: str | None = None
    finished: str | None = None
    seconds: float | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    links: list[Link]


def _iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")


def job_state(job: Job, request: Request) -> JobState:
    """Describe a job with its links (``self``, and ``map`` for a finished siting run)."""
    base = str(request.base_url).rstrip("/")
    links = [Link(href=f"{base}/jobs/{job.id}", rel="self", type="application/json",
                  title="This job")]
    if job.status == "succeeded" and "map" in job.artefacts:
        links.append(Link(href=f"{base}/maps/siting/{job.id}", rel="map", type="text/html",
                          title="Map of the suggestion"))
    if job.status == "succeeded":
        for name, path in job.artefacts.get("files", {}).items():
            links.append(Link(href=f"{base}/jobs/{job.id}/files/{name}", rel="enclosure",
                              type=_media_type(path), title=f"Result file {name}"))
    seconds = None
    if job.started is not None:
        seconds = round((job.finished or time.time()) - job.started, 3)
    return JobState(
        id=job.id,
        kind=job.kind,
        status=job.status,
        params=job.params,
        created=_iso(job.created) or "",
        started=_iso(job.started),
        finished=_iso(job.finished),
        seconds=seconds,
        result=job.result,
        error=job.error,
        links=links,
    )


def get_jobs(request: Request) -> JobManager:
    """Return the job manager of the app (created by the lifespan)."""
    return get_state(request).extras["jobs"]


@router.get(
    "/jobs/{job_id}",
    response_model=JobState,
    summary="Status and result of a background job",
    responses={404: {"description": "Unknown job"}},
)
def get_job(
    job_id: Annotated[str, Path(max_length=64, description="Job id")],
    request: Request,
) -> JobState:
    """Return the job's status; ``result`` once it has ``succeeded``, ``error`` if ``failed``."""
    return job_state(get_jobs(request).get(job_id), request)


@router.get(
    "/jobs/{job_id}/files/{name}",
    summary="A result file of a finished job (GeoPackage, CSV, GeoJSON, HTML map)",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}},
               404: {"description": "Unknown job or file"}},
)
def get_job_file(
    job_id: Annotated[str, Path(max_length=64, description="Job id")],
    name: Annotated[str, Path(max_length=64, description="File key (see the job's links)")],
    request: Request,
) -> FileResponse:
    """Download one file written by the job (names in the job's ``enclosure`` links)."""
    job = get_jobs(request).get(job_id)
    files = job.artefacts.get("files", {})
    if job.status != "succeeded" or name not in files:
        known = ", ".join(files) or "none"
        raise NotFoundError(f"job {job_id} has no file {name!r} (files: {known})")
    path = files[name]
    return FileResponse(path, media_type=_media_type(path), filename=PurePath(path).name)
