from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestQuotationRateLimit(TransactionCase):
    """The sliding minute, counted per second and connection."""

    def setUp(self):
        super().setUp()
        self.limits = self.env["quotation.rate.limit"]

    def _counted_elsewhere(self, hits, seconds_ago, user_id=None):
        """Hits another worker (another PostgreSQL connection) counted."""
        self.env.cr.execute(
            """
            INSERT INTO quotation_rate_limit (key, user_id, hit_at, backend, hits)
            VALUES ('key', %s,
                    date_trunc('second', now() AT TIME ZONE 'UTC')
                    - make_interval(secs => %s),
                    pg_backend_pid() + 1, %s)
            """,
            [user_id, seconds_ago, hits],
        )

    def _rows(self):
        return self.limits.search([("key", "=", "key")])

    def test_a_whole_minute_is_one_row_per_second_and_connection(self):
        self.assertEqual(self.limits._hit("key", 300, count=250), 0)
        self.assertEqual(self.limits._hit("key", 300, count=50), 0, "exactly 300")
        wait = self.limits._hit("key", 300)
        self.assertTrue(1 <= wait <= 60, wait)
        rows = self._rows()
        self.assertEqual(len(rows), 1, "a request's cost does not grow with traffic")
        self.assertEqual(rows.hits, 301, "a refused request counts too")

    def test_the_other_workers_hits_count_until_they_leave_the_minute(self):
        self._counted_elsewhere(1000, seconds_ago=61)  # out of the window
        self._counted_elsewhere(299, seconds_ago=30)
        self.assertEqual(self.limits._hit("key", 300), 0, "299 + 1")
        self.assertEqual(
            self.limits._hit("key", 300),
            30,
            "allowed again once the other worker's second leaves the minute",
        )
        self.assertEqual(len(self._rows()), 3)

    def test_a_user_budget_spans_the_keys_and_a_request_before_login_has_none(self):
        self._counted_elsewhere(5, seconds_ago=10, user_id=self.env.uid)
        self.assertEqual(
            self.limits._hit("another key", 100, user_id=self.env.uid, user_limit=5),
            50,
        )
        self.assertEqual(self.limits._hit("address", 2), 0)
        self.assertEqual(self.limits._hit("address", 2), 0)
        self.assertTrue(self.limits._hit("address", 2))
        by_address = self.limits.search([("key", "=", "address")])
        self.assertEqual((len(by_address), by_address.hits), (1, 3))
