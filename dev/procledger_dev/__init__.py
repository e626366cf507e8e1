"""Development tooling of procledger; not part of the runtime wheel (see docs/decisions/0001).

The tooling only ever targets the local stack, so it turns on the local profile for itself
and every procledger process it starts: the development passwords apply there and nowhere
else (procledger.settings.Env.secrets).
"""

import os

from procledger.settings import LOCAL_PROFILE, PROFILE_ENV

os.environ.setdefault(PROFILE_ENV, LOCAL_PROFILE)
