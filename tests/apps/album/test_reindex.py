"""Changing the search backend re-indexes in the background; search keeps working meanwhile."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select, update

from boda.apps.album.indexing import queue_stale, space_for
from boda.apps.album.models import Photo
from boda.core.models import Job
from boda.core.runtime import Runtime
from tests.apps.album.images import encode, picture
from tests.conftest import Account

API = "/api/v1/album"


def test_photos_of_an_old_backend_are_found_by_words_then_reindexed(alice: Account, runtime: Runtime) -> None:
    response = alice.post(f"{API}/photos", files=[("files", (f"p{i}.png", encode(picture(i), "PNG")))
                                                   for i in range(3)])
    ids = [p["id"] for p in response.json()]
    key = runtime.ai.get("image_text_embedder").key
    with runtime.db.session() as session:
        assert queue_stale(session, runtime) == 0  # all indexed by the current backend
        # As if these were indexed by another backend before the setting changed.
        session.execute(update(Photo).where(Photo.id.in_(ids[:2])).values(index_key="clip:old", ocr_text="harbour"))
        session.commit()
    old = space_for("clip:old")
    runtime.vectors.upsert(old, ids[:2], np.eye(2, 4, dtype=np.float32))
    found = alice.get(f"{API}/search", params={"q": "harbour"}).json()
    assert found["pending"] == 2
    first = found["items"][:2]  # found by their words first; the indexed third only by looks, after them
    assert {i["photo"]["id"] for i in first} == set(ids[:2]) and all(i["matched"] == "text" for i in first)
    assert [i["matched"] for i in found["items"][2:]] in ([], ["vector"])
    with runtime.db.session() as session:
        assert queue_stale(session, runtime) == 2  # jobs run inline in tests
        keys = dict(session.execute(select(Photo.id, Photo.index_key)).all())
        jobs = session.scalars(select(Job).where(Job.kind == "album.index")).all()
    assert set(keys.values()) == {key} and len(jobs) == 2 and all(j.status == "succeeded" for j in jobs)
    assert runtime.vectors.count(old) == 0  # the old backend's vectors went with the re-index
    assert alice.get(f"{API}/search", params={"q": "a photo"}).json()["pending"] == 0
