"""Kombu's filesystem transport (``make run``'s embedded broker) with whole-message writes.

kombu 5.x writes a message straight under its final name, and a reader may move it away and read it before the
writer has finished (the writer's lock is advisory; the reader takes none). The worker then reads an empty or
partial message, its consumer dies on a ``JSONDecodeError`` and it takes no more tasks, silently. The billing
tour's test (a year of test-clock advances, docs/billing_tour.py) found it. Here a message is written under a name
no reader picks up and then renamed into place, which is atomic on one filesystem: a reader sees a whole message or
none. Production's broker is Redis and does not use this.
"""

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        # The name kombu gives (time-ordered, for the reader's sort), written under a suffix the reader skips.
        final = os.path.join(self.data_folder_out, f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg")
        draft = f"{final}.writing"
        try:
            with open(draft, "wb", buffering=0) as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(draft, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
