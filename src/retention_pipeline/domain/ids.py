"""The alphabets of the ids that name things in logs, evidence and the UI.

Kept apart from the policy and certificate models (which import pydantic and the
certificate envelope) so that the command line can check an id it was given without
paying for those imports at every start-up.
"""

from __future__ import annotations

import re

CLIENT_ID_PATTERN = r"^[a-z0-9-]{3,63}$"
CLIENT_ID_HINT = "use 3 to 63 characters of a-z, 0-9 and '-' (no capitals, '.', '/' or spaces)"
CLIENT_ID = re.compile(CLIENT_ID_PATTERN)
# Staff ids, request references, certificate ids: letters, digits and ._:+/- only, so a
# person's name or an e-mail address cannot pass for one.
OPAQUE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:+/-]{0,127}$"
OPAQUE_ID_ALPHABET = "letters, digits and ._:+/-, starting with a letter or digit"
STAFF_ID = re.compile(OPAQUE_ID_PATTERN)
