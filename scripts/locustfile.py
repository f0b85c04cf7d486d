"""Mixed traffic against the streamrec API: mostly recommendations, some similar items, trending,
history reads and event posts (the next recommendation of a user who just posted must be fresh).

    .venv/bin/locust -f scripts/locustfile.py --host http://127.0.0.1:8000            # web UI
    .venv/bin/locust -f scripts/locustfile.py --host http://127.0.0.1:8000 --headless \\
        -u 50 -r 10 -t 1m --ids-users 943 --ids-items 1682                          # MovieLens ids

Ids are ``<prefix><n>``: by default "1".."943" users and "1".."1682" items, the MovieLens 100K
ids `make run` replays; ``--user-prefix user- --item-prefix item-`` matches generated data.
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

from locust import HttpUser, between, events, task

EVENT_TYPES = ("view", "watch", "watch", "like", "share", "skip")


@events.init_command_line_parser.add_listener
def add_arguments(parser: Any) -> None:
    """Add the id ranges of the data the API serves."""
    parser.add_argument("--ids-users", type=int, default=943, help="how many user ids")
    parser.add_argument("--ids-items", type=int, default=1682, help="how many item ids")
    parser.add_argument("--user-prefix", default="", help='user ids are prefix + 1..N ("")')
    parser.add_argument("--item-prefix", default="", help='item ids are prefix + 1..N ("")')


class Viewer(HttpUser):
    """Someone browsing: asks for recommendations, opens similar items, watches some of them."""

    wait_time = between(0.05, 0.5)

    def on_start(self) -> None:
        """Pick who this simulated user is."""
        options = self.environment.parsed_options
        self.users = options.ids_users if options else 943
        self.items = options.ids_items if options else 1682
        self.user_prefix = options.user_prefix if options else ""
        self.item_prefix = options.item_prefix if options else ""
        self.user_id = f"{self.user_prefix}{random.randint(1, self.users)}"

    def item(self) -> str:
        """Return a random item id, popular ones more often (a Zipf-like skew)."""
        rank = min(int(random.paretovariate(1.2)), self.items)
        return f"{self.item_prefix}{rank}"

    @task(10)
    def recommendations(self) -> None:
        """Ask for this user's recommendations."""
        self.client.get(
            f"/v1/users/{self.user_id}/recommendations?k=10",
            name="/v1/users/[user_id]/recommendations",
        )

    @task(3)
    def similar(self) -> None:
        """Open an item page: its similar items (404 is a fine answer for an unknown item)."""
        with self.client.get(
            f"/v1/items/{self.item()}/similar?k=10",
            name="/v1/items/[item_id]/similar",
            catch_response=True,
        ) as response:
            if response.status_code == 404:
                response.success()

    @task(2)
    def trending(self) -> None:
        """Look at the trending page."""
        self.client.get("/v1/trending?k=20")

    @task(1)
    def history(self) -> None:
        """Open the user's history."""
        self.client.get(f"/v1/users/{self.user_id}/history?limit=20", name="/v1/users/[id]/history")

    @task(2)
    def watch(self) -> None:
        """Watch something: post the events, then the next recommendations reflect them."""
        batch = [self.event() for _ in range(random.randint(1, 3))]
        self.client.post("/v1/events", json={"events": batch})

    def event(self) -> dict[str, Any]:
        """Return one valid watch event of this user."""
        return {
            "event_id": str(uuid.uuid4()),
            "user_id": self.user_id,
            "item_id": self.item(),
            "event_type": random.choice(EVENT_TYPES),
            "timestamp": int(time.time() * 1000),
        }
