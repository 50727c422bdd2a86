"""Document templates, their custom PDFs and check results.

Every method is one DynamoDB access pattern on a key or a GSI (docs/data-model.md); none scans.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from postal.errors import Conflict, NotFound
from postal.models import (
    CustomPdf,
    Template,
    TemplateCheck,
)
from postal.store import keys
from postal.store.dynamo import (
    deserialize,
    is_conditional_failure,
    serialize,
    translate,
)
from postal.store.table import Table, dump


class TemplateRepository(Table):
    """Document templates, their custom PDFs and check results."""

    def put_template(self, org_id: str, template: Template, *, requires_connected: bool) -> None:
        item = {"PK": keys.org_pk(org_id), "SK": keys.template_sk(template.template_id), **dump(template)}
        if requires_connected:
            self._put_requiring_connected(org_id, item)
        else:
            self._put(item)

    def get_template(self, org_id: str, template_id: str) -> Template:
        item = self._get(keys.org_pk(org_id), keys.template_sk(template_id))
        if not item:
            raise NotFound(f"template '{template_id}' not found")
        return Template.model_validate(item)

    def find_template(self, org_id: str, template_id: str) -> Template | None:
        item = self._get(keys.org_pk(org_id), keys.template_sk(template_id))
        return Template.model_validate(item) if item else None

    def list_templates(self, org_id: str) -> list[Template]:
        """All templates of an org (a handful: one per kind of document)."""
        items: list[Template] = []
        cursor: str | None = None
        while True:
            page, cursor = self._query_page(
                index=None, pk_name="PK", pk=keys.org_pk(org_id), sk_prefix="TEMPLATE#", limit=100, cursor=cursor
            )
            items.extend(Template.model_validate(i) for i in page)
            if not cursor:
                return items

    def revert_template_post(self, org_id: str, template_id: str, at: str, job_id: str) -> bool:
        """post -> email, only if it is still post (safe to repeat), counted on the job. True when it changed."""
        return self._transact_if(
            [
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": serialize({"PK": keys.org_pk(org_id), "SK": keys.template_sk(template_id)}),
                        "UpdateExpression": "SET default_channel = :email, updated_at = :at",
                        "ConditionExpression": "default_channel = :post",
                        "ExpressionAttributeValues": serialize({":email": "email", ":post": "post", ":at": at}),
                    }
                },
                self._job_tick(org_id, job_id, "templates"),
            ]
        )

    def set_template_pdf(self, org_id: str, template_id: str, pdf: CustomPdf, at: str, *, keep_check: bool) -> Template:
        """Attach an uploaded custom PDF to an existing template without rewriting its other settings.

        An update (not a put) so a concurrent settings change is not lost; the stored check is dropped unless the
        caller says it was made for these very bytes.
        """
        expression = "SET custom_pdf = :pdf, updated_at = :at" + ("" if keep_check else " REMOVE #chk")
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "Key": serialize({"PK": keys.org_pk(org_id), "SK": keys.template_sk(template_id)}),
            "UpdateExpression": expression,
            "ConditionExpression": "attribute_exists(PK)",
            "ExpressionAttributeValues": serialize({":pdf": dump(pdf), ":at": at}),
            "ReturnValues": "ALL_NEW",
        }
        if not keep_check:
            kwargs["ExpressionAttributeNames"] = {"#chk": "check"}
        try:
            resp = self.client.update_item(**kwargs)
        except ClientError as exc:
            if is_conditional_failure(exc):
                raise NotFound(f"template '{template_id}' not found") from exc
            raise translate(exc) from exc
        return Template.model_validate(deserialize(resp["Attributes"]))

    def set_template_check(self, org_id: str, template_id: str, check: TemplateCheck) -> Template:
        """Store a check result, only while the template still has the PDF that was checked.

        The condition on `custom_pdf.sha256` means a check that raced with a re-upload can never be recorded
        against the new bytes (it would unblock connect for a PDF nobody checked).
        """
        try:
            resp = self.client.update_item(
                TableName=self.table,
                Key=serialize({"PK": keys.org_pk(org_id), "SK": keys.template_sk(template_id)}),
                UpdateExpression="SET #chk = :check",
                ConditionExpression="custom_pdf.sha256 = :sha",
                ExpressionAttributeNames={"#chk": "check"},
                ExpressionAttributeValues=serialize({":check": dump(check), ":sha": check.pdf_sha256}),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                raise Conflict(
                    "the template's PDF changed while it was being checked",
                    code="template_pdf_changed",
                    fix="run the check again",
                ) from exc
            raise translate(exc) from exc
        return Template.model_validate(deserialize(resp["Attributes"]))
