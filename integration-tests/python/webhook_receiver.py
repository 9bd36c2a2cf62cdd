"""A webhook receiver for the system test `webhooks`: verifies every
delivery with the `standardwebhooks` package and logs it as a JSON line.

Environment: PORT, SECRET (whsec_…), LOG (file). By path: /ok answers 200,
/gone 400, /flaky 500 the first time and 200 after.
"""

import http.server
import json
import os

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

webhook = Webhook(os.environ["SECRET"])
log = open(os.environ["LOG"], "a", buffering=1)
seen = {}


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        try:
            payload, verified = webhook.verify(body, dict(self.headers)), True
        except WebhookVerificationError as e:
            payload, verified = str(e), False
        n = seen[self.path] = seen.get(self.path, 0) + 1
        status = {"/ok": 200, "/gone": 400}.get(self.path, 500 if n == 1 else 200)
        record = {"path": self.path, "n": n, "status": status, "verified": verified, "payload": payload,
                  "id": self.headers.get("webhook-id")}
        log.write(json.dumps(record) + "\n")
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Receiver).serve_forever()
