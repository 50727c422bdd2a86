"""Creating organisations: the API key is generated here, returned once, stored only as a hash."""

from __future__ import annotations

from pydantic import BaseModel

from postal.auth import hash_key, new_api_key
from postal.clock import new_id
from postal.documents.zones import get_zone
from postal.models import Org, OrgIn
from postal.store.records import Records


class CreatedOrg(BaseModel):
    org: Org
    api_key: str


def create_org(records: Records, body: OrgIn, now: str) -> CreatedOrg:
    if body.window_standard:
        get_zone(body.window_standard)  # 404 listing the known standards
    org = Org(org_id=new_id("org"), created_at=now, **body.model_dump())
    api_key = new_api_key()
    records.create_org(org, hash_key(api_key))
    return CreatedOrg(org=org, api_key=api_key)
