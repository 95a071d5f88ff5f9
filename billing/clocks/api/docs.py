"""What /v1/docs/ says about test clocks: each operation's text and real examples.

The example objects are answers of a real Kassa with their ids made readable
(tests/kassa/test_api_docs.py checks each against the schema and sends every
write's default request to a live Kassa).
"""

from kassa.api.schema import Doc

from ...catalogue.api.docs import CREATED

TEST_CLOCK_ID = "clock_4Rt8Xq2LmW9nPz3KbV7sHdYc"
FROZEN_TIME = 1767225600  # 2026-01-01 00:00 UTC

TEST_CLOCK = {
    "id": TEST_CLOCK_ID,
    "object": "test_helpers.test_clock",
    "created": CREATED,
    "deletes_after": CREATED + 30 * 86400,
    "frozen_time": FROZEN_TIME,
    "livemode": False,
    "name": "Annual plan, first year",
    "status": "ready",
    "status_details": {},
}
ADVANCING = {
    **TEST_CLOCK,
    "status": "advancing",
    "status_details": {"advancing": {"target_frozen_time": FROZEN_TIME + 2 * 3600}},
}

TAG = "Test Clocks"
TEST_MODE_ONLY = " Test mode only: a live key is refused (400)."

TEST_CLOCKS_LIST = Doc(
    tag=TAG,
    summary="List all test clocks",
    description="Your test clocks, newest first." + TEST_MODE_ONLY,
    response=TEST_CLOCK,
    query={"limit": 3},
)
TEST_CLOCKS_CREATE = Doc(
    tag=TAG,
    summary="Create a test clock",
    description="Makes a clock frozen at `frozen_time`. Customers made with `test_clock` live on its time: "
    "Kassa's beat leaves their invoices alone, and advancing the clock finalizes, charges and marks overdue "
    "what falls due on the clock's time." + TEST_MODE_ONLY,
    requests=(("A clock at 1 January 2026", {"frozen_time": FROZEN_TIME, "name": "Annual plan, first year"}),),
    response=TEST_CLOCK,
)
TEST_CLOCKS_RETRIEVE = Doc(
    tag=TAG,
    summary="Retrieve a test clock",
    description="The test clock with this id: poll it after an advance until `status` is `ready`." + TEST_MODE_ONLY,
    response=TEST_CLOCK,
    path_id=TEST_CLOCK_ID,
)
TEST_CLOCKS_DELETE = Doc(
    tag=TAG,
    summary="Delete a test clock",
    description="Deletes the clock. Unlike Stripe, which deletes the clock's customers and their objects with "
    "it, Kassa keeps invoices and payments for good: a clock that still has customers is refused (400); "
    "delete the customers first. Kassa also deletes a clock by itself once `deletes_after` has passed (hourly), "
    "as Stripe does, where these rules allow it; a clock they keep stays until they do." + TEST_MODE_ONLY,
    response={"id": TEST_CLOCK_ID, "object": "test_helpers.test_clock", "deleted": True},
    path_id=TEST_CLOCK_ID,
)
TEST_CLOCKS_ADVANCE = Doc(
    tag=TAG,
    summary="Advance a test clock",
    description="Starts moving the clock to `frozen_time`, later than its current time: the clock answers "
    "`advancing`, and Kassa's worker runs what falls due for the clock's customers (drafts finalized, "
    "invoices charged, invoices overdue) in steps of at most a day, then the clock is `ready` at the new "
    "time (`test_helpers.test_clock.ready`)." + TEST_MODE_ONLY,
    requests=(("Two hours later", {"frozen_time": FROZEN_TIME + 2 * 3600}),),
    response=ADVANCING,
    path_id=TEST_CLOCK_ID,
)
