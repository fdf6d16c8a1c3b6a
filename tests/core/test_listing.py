"""Listing what a scope may see, a page at a time."""

from __future__ import annotations

from boda.core.auth import Scope
from boda.core.listing import list_visible
from boda.core.models import Household, HouseholdMember, StoredFile, User, Visibility
from boda.core.runtime import Runtime


def _file(owner: User, visibility: Visibility, household_id: str | None = None) -> StoredFile:
    return StoredFile(owner_id=owner.id, blob_key="k", content_type="image/png", size=1, visibility=visibility,
                      household_id=household_id)


def test_list_visible_pages_by_reach(runtime: Runtime) -> None:
    from boda.core.auth import create_user

    with runtime.db.session() as session:
        ann = create_user(session, username="ann", password="long enough")
        ben = create_user(session, username="ben", password="long enough")
        cat = create_user(session, username="cat", password="long enough")
        home = Household(name="home", members=[HouseholdMember(user_id=ann.id, role="owner"),
                                               HouseholdMember(user_id=ben.id)])
        session.add(home)
        session.flush()
        session.add_all([_file(ann, Visibility.private) for _ in range(3)]
                        + [_file(ann, Visibility.household, home.id), _file(ann, Visibility.public)])
        session.flush()
        ann_scope, ben_scope, cat_scope = Scope.of(ann), Scope.of(ben), Scope.of(cat)

        mine = list_visible(session, StoredFile, ann_scope, limit=2, offset=0, reach="mine")
        assert mine.total == 5 and len(mine.items) == 2
        assert [f.id for f in mine.items] == sorted((f.id for f in mine.items), reverse=True)  # newest first
        assert list_visible(session, StoredFile, ben_scope, limit=10, offset=0).total == 2  # household + public
        shared = list_visible(session, StoredFile, ben_scope, limit=10, offset=0, reach="household")
        assert [f.visibility for f in shared.items] == ["household"]
        assert list_visible(session, StoredFile, cat_scope, limit=10, offset=0).total == 1  # public only
        assert list_visible(session, StoredFile, Scope.of(None), limit=10, offset=0).total == 1
        last_page = list_visible(session, StoredFile, ann_scope, limit=2, offset=4, reach="mine")
        assert last_page.total == 5 and len(last_page.items) == 1
