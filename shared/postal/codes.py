"""The one catalogue of error codes (PRODUCT.md §4, providers.md §5.3): every `code` the service emits, and the
default `fix` of the canonical codes a letter can fail with. Provider adapters, letters and dispatch import it.

A code is stable and machine-readable: clients branch on it. `tests/unit/test_errors.py` checks that every code
literal in `shared/` is listed here, so a new code is added here first.
"""

from __future__ import annotations

from enum import StrEnum


class Code(StrEnum):
    """Every error code, canonical provider codes first (providers.md §5.3)."""

    # -- canonical: why a letter failed, whichever provider said so
    MISSING_ADDRESS_FIELDS = "missing_address_fields"
    UNSUPPORTED_COUNTRY = "unsupported_country"
    FORMAT_ERROR = "format_error"
    INSUFFICIENT_CREDIT = "insufficient_credit"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    REJECTED_BY_PROVIDER = "rejected_by_provider"
    UNDELIVERABLE = "undeliverable"
    # The provider reports a problem with the letter that we cannot classify further: a person must look.
    PROVIDER_PROBLEM = "provider_problem"
    # The org's provider cannot do what the letter asks (capabilities.json): nothing is silently downgraded.
    POSTAGE_NOT_SUPPORTED = "postage_not_supported"

    # -- requests, documents, checks, integrations (alphabetical)
    ADDRESS_BREAKS_POSTAL_RULES = "address_breaks_postal_rules"
    ADDRESS_DOES_NOT_FIT = "address_does_not_fit"
    ADDRESS_NOT_FOUND = "address_not_found"
    ADDRESS_NOT_MACHINE_READABLE = "address_not_machine_readable"
    ADDRESS_OUTSIDE_WINDOW = "address_outside_window"
    ADDRESS_RETURNED = "address_returned"
    ADDRESS_WRONG_SIDE = "address_wrong_side"
    ADMIN_ONLY = "admin_only"
    ALREADY_CONNECTED = "already_connected"
    API_KEY_NOT_ROTATABLE = "api_key_not_rotatable"
    BAD_REQUEST = "bad_request"
    CANCEL_REFUSED = "cancel_refused"
    CONCURRENT_MODIFICATION = "concurrent_modification"
    CONFLICT = "conflict"
    CONFLICTING_FILTERS = "conflicting_filters"
    CONTENT_IN_CLEAR_ZONE = "content_in_clear_zone"
    CONTENT_TOO_COMPLEX = "content_too_complex"
    CROPBOX_MISMATCH = "cropbox_mismatch"
    CUSTOM_ADDRESS_BOX_REQUIRED = "custom_address_box_required"
    CUSTOM_ADDRESS_POSITION = "custom_address_position"
    CUSTOM_LAYOUT_NOT_RENDERED = "custom_layout_not_rendered"
    CUSTOM_TEMPLATE_INCOMPATIBLE = "custom_template_incompatible"
    CUSTOM_TEMPLATE_MISSING_PDF = "custom_template_missing_pdf"
    CUSTOM_TEMPLATE_UNCHECKED = "custom_template_unchecked"
    DISCONNECT_IN_PROGRESS = "disconnect_in_progress"
    DUPLICATE_STEP_ID = "duplicate_step_id"
    EMPTY_BODY = "empty_body"
    ERROR = "error"
    FILE_NOT_FOUND = "file_not_found"
    FILE_TOO_LARGE = "file_too_large"
    FONT_NOT_EMBEDDED = "font_not_embedded"
    FORBIDDEN = "forbidden"
    IDEMPOTENCY_KEY_REQUIRED = "idempotency_key_required"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    INTEGRATION_BROKEN = "integration_broken"
    INTEGRATION_CHANGED = "integration_changed"
    INTEGRATION_NOT_CONNECTED = "integration_not_connected"
    INTERACTIVE_FORM = "interactive_form"
    INVALID_ADDRESS = "invalid_address"
    INVALID_BODY = "invalid_body"
    INVALID_CURSOR = "invalid_cursor"
    INVALID_DATE_RANGE = "invalid_date_range"
    INVALID_DPI = "invalid_dpi"
    INVALID_ENCODING = "invalid_encoding"
    INVALID_IDEMPOTENCY_KEY = "invalid_idempotency_key"
    INVALID_JSON = "invalid_json"
    INVALID_LOGO = "invalid_logo"
    INVALID_MULTIPART = "invalid_multipart"
    INVALID_PDF_ENCODING = "invalid_pdf_encoding"
    INVALID_SIGNATURE = "invalid_signature"
    INVALID_TRANSITION = "invalid_transition"
    INVALID_UPLOAD_KEY = "invalid_upload_key"
    INVOICE_CUSTOMER_MISMATCH = "invoice_customer_mismatch"
    INVOICE_NOT_OPEN = "invoice_not_open"
    INVOICES_REQUIRED = "invoices_required"
    JAVASCRIPT_PRESENT = "javascript_present"
    JSON_TOO_DEEP = "json_too_deep"
    LETTER_NOT_CANCELLABLE = "letter_not_cancellable"
    LETTER_NOT_FOUND = "letter_not_found"
    MIXED_CURRENCIES = "mixed_currencies"
    NO_CUSTOM_PDF = "no_custom_pdf"
    NO_PUBLIC_PRICE = "no_public_price"
    NOT_A_PDF = "not_a_pdf"
    NOT_FOUND = "not_found"
    ORG_ALREADY_CREATED = "org_already_created"
    ORG_EXISTS = "org_exists"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    PDF_EMPTY = "pdf_empty"
    PDF_ENCRYPTED = "pdf_encrypted"
    PDF_TOO_LARGE_INLINE = "pdf_too_large_inline"
    PDF_UNREADABLE = "pdf_unreadable"
    PREVIEW_TOO_LARGE = "preview_too_large"
    PROVIDER_NOT_ALLOWED = "provider_not_allowed"
    PROVIDER_REQUIRED = "provider_required"
    RECIPIENT_MISMATCH = "recipient_mismatch"
    RETURN_LINE_OUTSIDE_ZONE = "return_line_outside_zone"
    RUN_TOO_LARGE_TO_QUOTE = "run_too_large_to_quote"
    SEND_NOT_CONFIRMED = "send_not_confirmed"
    SENDER_DOES_NOT_FIT = "sender_does_not_fit"
    STEPS_OUT_OF_ORDER = "steps_out_of_order"
    TABLE_DOES_NOT_FIT = "table_does_not_fit"
    TEMPLATE_PDF_CHANGED = "template_pdf_changed"
    TEMPLATES_BLOCK_CONNECT = "templates_block_connect"
    THROTTLED = "throttled"
    TOO_MANY_PAGES = "too_many_pages"
    TOO_MANY_REQUESTS = "too_many_requests"
    UNAUTHORIZED = "unauthorized"
    UNKNOWN_TEMPLATE = "unknown_template"
    UNKNOWN_WINDOW_STANDARD = "unknown_window_standard"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    UPLOAD_NOT_FOUND = "upload_not_found"
    VALIDATION_FAILED = "validation_failed"
    WRONG_PAGE_SIZE = "wrong_page_size"


# The codes a provider adapter reports (providers.md §5.3): any other provider code is `rejected_by_provider`.
PROVIDER_CODES: frozenset[Code] = frozenset(
    {
        Code.MISSING_ADDRESS_FIELDS,
        Code.UNSUPPORTED_COUNTRY,
        Code.FORMAT_ERROR,
        Code.INSUFFICIENT_CREDIT,
        Code.PROVIDER_UNAVAILABLE,
        Code.REJECTED_BY_PROVIDER,
        Code.UNDELIVERABLE,
        Code.PROVIDER_PROBLEM,
        Code.POSTAGE_NOT_SUPPORTED,
    }
)

# The fix shown for each canonical code when nothing more specific is known; `{provider}` names the provider.
FIXES: dict[Code, str] = {
    Code.MISSING_ADDRESS_FIELDS: "Complete the recipient's address (name, street, postal code, city, country), "
    "then send again.",
    Code.UNSUPPORTED_COUNTRY: "Correct the country if it is wrong; otherwise send by email or through a provider "
    "that covers the country.",
    Code.FORMAT_ERROR: "Fix the template as the check report says, or switch on a generated cover page; then "
    "re-render.",
    Code.INSUFFICIENT_CREDIT: "Top up {provider}'s account or add a payment method.",
    Code.PROVIDER_UNAVAILABLE: "Nothing for transient faults: the letter is retried, then can be redriven from the "
    "dead-letter queue (make redrive). For rejected credentials, reconnect the integration.",
    Code.REJECTED_BY_PROVIDER: "Read {provider}'s reason shown with the error; change the content or options, then "
    "send again.",
    Code.UNDELIVERABLE: "Correct the customer's address; postal steps for the customer pause until then. Resend or "
    "fall back to email.",
    Code.PROVIDER_PROBLEM: "{provider} reports a problem it did not explain further: open the letter in "
    "{provider}'s web app, fix or cancel it there, then send again if needed.",
}
# The codes a letter can fail with (`LetterError.code`); any other failure is reported as rejected_by_provider.
CANONICAL: frozenset[Code] = frozenset(FIXES)


def fix_for(code: str, provider: str | None = None) -> str:
    """The default fix of a canonical `code` (`rejected_by_provider`'s for any other), naming `provider`."""
    text = FIXES.get(code) or FIXES[Code.REJECTED_BY_PROVIDER]  # type: ignore[call-overload]
    text = text.replace("{provider}", provider or "the provider")
    return text[:1].upper() + text[1:]
