"""`boda album import`: a folder into a library, resumable (a second run skips what is there)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from boda.apps.album.models import Photo
from boda.core.config import get_settings
from boda.core.db import Database
from boda.core.errors import NotFound
from boda.core.models import Job
from tests.apps.album.images import encode, exif_jpeg, picture


def test_import_twice_skips_what_the_library_has(run: Callable[..., str], tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    (folder / "2021").mkdir(parents=True)
    (folder / "a.jpg").write_bytes(exif_jpeg(seed=1))
    (folder / "b.png").write_bytes(encode(picture(2), "PNG"))
    (folder / "copy-of-a.jpg").write_bytes(exif_jpeg(seed=1))
    (folder / "2021" / "c.heic").write_bytes(encode(picture(3), "HEIF"))
    (folder / "notes.txt").write_text("not a photo")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff" + b"\x00" * 50)
    run("user", "create", "mina", "--password", "long enough password")

    out = run("album", "import", str(folder), code=1)  # one broken file: reported, the rest imported
    assert "Imported 2, skipped 1 already in the library, failed 1 (of 4 files)" in out and "broken.jpg" in out
    out = run("album", "import", str(folder), "--recursive", "--user", "mina", code=1)
    assert "Imported 1, skipped 3 already in the library, failed 1 (of 5 files)" in out

    db = Database(get_settings().database_url)
    try:
        with db.session() as session:
            photos = session.scalars(select(Photo)).all()
            assert sorted(p.filename for p in photos) == ["a.jpg", "b.png", "c.heic"]
            assert all(len(p.thumbnails) == 2 for p in photos)
            assert next(p for p in photos if p.filename == "a.jpg").camera_model == "EOS 5D"
            jobs = session.scalars(select(Job).where(Job.kind == "album.index").order_by(Job.id)).all()
            assert [len(j.payload["photo_ids"]) for j in jobs] == [2, 1]  # queued for the worker
    finally:
        db.dispose()
    with pytest.raises(NotFound):  # `boda` (main) prints it as one red line and exits 1
        run("album", "import", str(folder), "--user", "nobody")


def test_import_then_search_in_korean_finds_the_cat(run: Callable[..., str], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Real photos imported from a folder, indexed (jobs run at once here), then found by a Korean word."""
    from skimage import data as skdata

    from tests.apps.album.test_search import jpeg

    monkeypatch.setenv("BODA_JOBS__IMMEDIATE", "true")
    monkeypatch.setenv("BODA_AI__TEXT_ENCODER", "use-m")
    monkeypatch.setenv("BODA_AI__DOWNLOADS", "false")
    monkeypatch.setenv("BODA_AI__THREADS", "1")
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "cat.jpg").write_bytes(jpeg(skdata.chelsea()))
    (folder / "coffee.jpg").write_bytes(jpeg(skdata.coffee()))
    (folder / "motorcycle.jpg").write_bytes(jpeg(skdata.stereo_motorcycle()[0]))
    run("user", "create", "mina", "--password", "long enough password")
    assert "Imported 3" in run("album", "import", str(folder))
    out = run("album", "search", "고양이", "--limit", "3")
    order = sorted(("cat.jpg", "coffee.jpg", "motorcycle.jpg"), key=out.find)  # rows may wrap: find the names
    assert order[0] == "cat.jpg" and all(name in out for name in order), out
    assert "not indexed" not in out
