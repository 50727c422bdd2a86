"""Letters (PRODUCT.md §2.5, §4): the model and its ONE status state machine, the requests and their rules, and
the services of the letters API.

The package itself holds only what is pure (no I/O), so the DAL, dispatch and webhooks import it without the
letters API: `model` (statuses, the state machine, the stored letter and its views), `requests` (what a client
asks for and the rules it must meet) and `messages` (status events, dispatch messages and their ports).
The services are imported from their modules, each with what it needs: `create` (send a letter), `uploads` (a
letter whose PDF is uploaded), `views` (get and list), `cancel`, `pricing` (a letter's price, a run's quote).
Handlers call them with the adapters from `postal.bootstrap`. The one state machine is `status` (its moves,
sources and guards, pure) and `changes` (the one service that applies a change and publishes its event).
"""

from postal.letters.messages import SOURCE, DispatchMessage, Publisher, Sender
from postal.letters.model import (
    CANCELLABLE,
    FINAL,
    FORWARD,
    UNSUBMITTED,
    CancelOut,
    Letter,
    LetterError,
    LetterEvent,
    LetterPage,
    LetterView,
    can_move,
    error_from_code,
    one_entry_per_status,
    predecessors,
    status_event_detail,
)
from postal.letters.requests import (
    MAX_PDF_BASE64,
    MAX_UPLOAD_BYTES,
    DocumentRef,
    LetterIn,
    RecipientIn,
    missing_from_window,
    recipient_fields,
    require_postage_available,
    require_send,
    require_window_shows,
)

__all__ = [
    "CANCELLABLE",
    "FINAL",
    "FORWARD",
    "MAX_PDF_BASE64",
    "MAX_UPLOAD_BYTES",
    "SOURCE",
    "UNSUBMITTED",
    "CancelOut",
    "DispatchMessage",
    "DocumentRef",
    "Letter",
    "LetterError",
    "LetterEvent",
    "LetterIn",
    "LetterPage",
    "LetterView",
    "Publisher",
    "RecipientIn",
    "Sender",
    "can_move",
    "error_from_code",
    "missing_from_window",
    "one_entry_per_status",
    "predecessors",
    "recipient_fields",
    "require_postage_available",
    "require_send",
    "require_window_shows",
    "status_event_detail",
]
