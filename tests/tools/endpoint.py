#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# A user's HTTP application for the gateway scenarios (t0730): the kind of
# service a job type is forwarded to. POST /echo answers like mindtrace's
# Worker /run; the other paths answer what mindtrace's gateway tests feed
# it (unexpected fields, a running status, nulls, not JSON, HTTP 500, a
# hang). Binds 127.0.0.1 on a free port, prints the port, and counts the
# requests it got per path in COUNTS_FILE (for "retried N times").
import http.server, json, sys, threading, time

counts, lock = {}, threading.Lock()
counts_file = sys.argv[1]

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        path = self.path.rsplit("/", 1)[-1]
        with lock:
            counts[path] = counts.get(path, 0) + 1
            with open(counts_file, "w") as f:
                json.dump(counts, f)
        code, out = 200, "{}"
        if path == "echo":
            job = json.loads(body)
            out = json.dumps({"status": "completed", "output": {"echoed": job["payload"]["message"]}})
        elif path == "unexpected":
            out = '{"unexpected": 1}'
        elif path == "running":
            out = '{"status": "running"}'
        elif path == "nulls":
            out = '{"status": null, "output": null}'
        elif path == "garbage":
            out = "this is not JSON"
        elif path == "e500":
            code, out = 500, "internal trouble"
        elif path == "hang":
            time.sleep(20)
        else:
            code = 404
        b = out.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def do_GET(self):  # register_app's proxy: what came in
        b = json.dumps({"method": "GET", "path": self.path,
                        "authorization": self.headers.get("Authorization")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def log_message(self, *a):
        pass

s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
s.daemon_threads = True
print(s.server_address[1], flush=True)
s.serve_forever()
