"""Everything a process builds once from settings: database, blobs, queue, AI."""

from __future__ import annotations

import threading

from boda.ai.registry import Providers
from boda.core.config import Settings
from boda.core.db import Database
from boda.core.jobs import JobQueue
from boda.core.storage import BlobStore
from boda.core.throttle import DbLoginThrottle, LoginThrottle, RedisLoginThrottle
from boda.core.vectors import VectorStore, make_vector_store


class Runtime:
    def __init__(self, settings: Settings) -> None:
        from boda.core.apps import load_jobs

        load_jobs()
        self.settings = settings
        self.db = Database(settings.database_url, echo=settings.db.echo, pool_size=settings.db.pool_size,
                           busy_timeout_ms=settings.db.busy_timeout_ms, analyze_seconds=settings.db.analyze_seconds)
        self.store = BlobStore(settings.storage_url, settings.storage.options)
        self.ai = Providers(settings)
        # Decoding a 50-megapixel photo takes hundreds of MB: bound how many requests hold decoded
        # pixels at once (decode, analyse, encode). Inference itself is bounded per provider
        # (ai.provider_concurrency, in OnnxModel), in requests and jobs alike; jobs hold one photo per
        # worker thread (jobs.workers).
        self.image_work = threading.BoundedSemaphore(settings.ai.concurrency)
        self.login_throttle = self._login_throttle(settings)
        self.queue = JobQueue(self)
        self._vectors: VectorStore | None = None
        self._vectors_lock = threading.Lock()

    @property
    def vectors(self) -> VectorStore:
        """The vector store (built on first use: a process that never searches never opens it)."""
        with self._vectors_lock:
            if self._vectors is None:
                self._vectors = make_vector_store(self.settings, self.db.engine)
            return self._vectors

    def _login_throttle(self, settings: Settings) -> LoginThrottle:
        limits = {"per_user": settings.login_failures_per_user, "per_address": settings.login_failures_per_address,
                  "window_seconds": settings.login_window_seconds}
        if settings.jobs_url.startswith(("redis://", "rediss://")):  # the many-machines setup has Redis anyway
            return RedisLoginThrottle(settings.jobs_url, **limits)
        return DbLoginThrottle(self.db, **limits)

    def close(self, *, wait: float | None = None) -> None:
        self.queue.stop_consumer(wait=wait)
        if self._vectors is not None:
            self._vectors.close()
        self.db.dispose()
