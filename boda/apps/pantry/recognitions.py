"""Photo-to-ingredients requests: store the photo, queue `pantry.recognise`, read the result, confirm it.

A recognition is the job itself (its id is the job's id): the payload names the household and the
stored photo, the result holds the candidates (`recognise.recognise`). No table of its own: what the
user keeps becomes items, made by `service.create_item` like any other, with the photo attached, and
the boxes of what they kept teach the household's own classifier (`household.py`).
The household is checked as everywhere in Pantry: a recognition of a household the caller is not in
is a 404, and so is a job of another kind.
"""

from __future__ import annotations

from typing import Any, BinaryIO

from sqlalchemy.orm import Session

from boda.apps.pantry import service
from boda.apps.pantry.models import Item, ItemEvent
from boda.core import auth, uploads
from boda.core.auth import Scope
from boda.core.errors import Conflict, NotFound
from boda.core.models import HouseholdMember, Job, JobStatus, StoredFile, Visibility
from boda.core.runtime import Runtime

KIND = "pantry.recognise"
KINDS = (KIND, "pantry.receipt")  # a receipt is read into the same candidates and confirmed the same way
APP = "pantry"


def start(session: Session, runtime: Runtime, scope: Scope, household_id: str, source: BinaryIO,
          filename: str | None, *, receipt: bool = False) -> Job:
    """Check and store the photo (a bad image is refused with nothing kept), then queue its recognition."""
    from boda.apps.pantry.jobs import RecognisePayload, receipt_job, recognise_job

    user_id = scope.require_user()
    with runtime.image_work:
        row = uploads.save_image_upload(session, runtime.store, owner_id=user_id, source=source, filename=filename,
                                        app=APP, max_bytes=runtime.settings.max_upload_bytes,
                                        max_pixels=runtime.settings.max_image_pixels)
    # The household reads the recognition and keeps its items, so it sees the photo too.
    auth.set_visibility(session, row, Visibility.household, scope=scope, household_id=household_id)
    payload = RecognisePayload(household_id=household_id, file_id=row.id)
    if receipt:
        return runtime.queue.enqueue(session, receipt_job, owner_id=user_id, payload=payload,
                                     title="Read a receipt", title_key="pantry.job.receipt")
    return runtime.queue.enqueue(session, recognise_job, owner_id=user_id, payload=payload,
                                 title="Recognise ingredients in a photo", title_key="pantry.job.recognise")


def run(session: Session, runtime: Runtime, household_id: str, file_id: str,
        progress: Any = None) -> dict[str, Any]:
    """The job's work: every recogniser on the stored photo (the chat model too when one is configured, and the
    household's own classifier once it has trained one)."""
    from boda.apps.pantry.household import head_for
    from boda.apps.pantry.recognise import recognise

    file = session.get(StoredFile, file_id)
    if file is None:
        raise NotFound(f"No stored photo with id {file_id}", key="pantry_recognition_not_found")
    with runtime.image_work:
        image = uploads.load_image(runtime.store, file)
        data = runtime.store.read(file.blob_key)
    chat = runtime.ai.chat()
    classifier = runtime.ai.image_classifier()
    own = head_for(session, household_id, classifier)
    result = recognise(image, detector=runtime.ai.object_detector(), classifier=classifier,
                       chat=chat if chat.available else None, image_bytes=data, household=own, progress=progress)
    return {"household_id": household_id, "file_id": file_id, "household_version": own.version if own else None,
            **result}


def run_receipt(session: Session, runtime: Runtime, household_id: str, file_id: str,
                progress: Any = None) -> dict[str, Any]:
    """The receipt job's work: Tesseract, the rules, and the chat model when one is configured."""
    from boda.apps.pantry.receipts import read_receipt

    file = session.get(StoredFile, file_id)
    if file is None:
        raise NotFound(f"No stored photo with id {file_id}", key="pantry_recognition_not_found")
    with runtime.image_work:
        image = uploads.load_image(runtime.store, file)
    chat = runtime.ai.chat()
    result = read_receipt(image, reader=runtime.ai.get("ocr"), chat=chat if chat.available else None,
                          progress=progress)
    return {"household_id": household_id, "file_id": file_id, **result}


def get(session: Session, scope: Scope, recognition_id: str) -> Job:
    """The recognition job, if it is one and its household is the caller's: else 404."""
    user_id = scope.require_user()
    row = session.get(Job, recognition_id)
    household_id = (row.payload or {}).get("household_id") if row is not None else None
    member = session.get(HouseholdMember, (household_id, user_id)) if household_id else None
    if row is None or row.kind not in KINDS or member is None:
        raise NotFound(f"No recognition with id {recognition_id}", key="pantry_recognition_not_found")
    return row


def confirm(session: Session, scope: Scope, recognition_id: str, chosen: list[dict[str, Any]],
            runtime: Runtime | None = None) -> list[tuple[Item, ItemEvent]]:
    """The user's edited list becomes items of the recognition's household, with shelf-life dates and the photo;
    with `runtime`, the boxes of what was kept become examples for the household's classifier, and enough
    new ones queue its training.

    409 while the recognition has not finished well, and once it has been confirmed (a second tap on
    "add to fridge" must not add everything twice).
    """
    row = get(session, scope, recognition_id)
    if row.status != JobStatus.succeeded or not row.result:
        raise Conflict("The recognition has not finished yet", key="pantry_recognition_not_ready",
                       details={"status": str(row.status)})
    if row.result.get("confirmed_item_ids") is not None:
        raise Conflict("These ingredients were already added", key="pantry_recognition_confirmed",
                       details={"item_ids": row.result["confirmed_item_ids"]})
    household_id = row.payload["household_id"]
    made = [service.create_item(session, scope, household_id, name=c["name"], quantity=c.get("quantity") or 1.0,
                                unit=c.get("unit") or "", place_id=c.get("place_id"),
                                photo_file_id=row.payload["file_id"]) for c in chosen]
    row.result = {**row.result, "confirmed_item_ids": [item.id for item, _ in made]}
    session.flush()
    if runtime is not None:
        from boda.apps.pantry.household import learn

        learn(session, runtime, row, chosen, [item for item, _ in made], scope.require_user())
    return made
