"""Schemathesis hooks for the bad-input campaign.

cargo lambda watch (the local stand-in for API Gateway) cannot put a header value that is not
ASCII into the JSON event it hands the function, and answers 500 itself without invoking it.
Those requests test the emulator, not the platform, so they are not generated; the functions'
own answer to such a header (400) is covered by tests/payment_flows.rs.
"""

import schemathesis


@schemathesis.hook
def filter_headers(context, headers):
    return headers is None or all(str(v).isascii() for v in headers.values())
