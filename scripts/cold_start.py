#!/usr/bin/env python3
"""Cold start of the Lambda binaries.

1. sms-webhook: time from process start to the first handled request, with a real DynamoDB
   write.
2. Init of every function (process start to its first /invocation/next) beside the bare
   baseline (shared/examples/bare_lambda.rs: lambda_http, the SDK's configuration and a
   DynamoDB client, nothing else), run in turn in the same rounds, so each function's
   median over the baseline's is a ratio that the machine's load does not move.

A minimal Lambda Runtime API (the HTTP interface the real service offers the function) runs
here on loopback and hands the function one signed Twilio webhook as an API Gateway HTTP API
event; the clock stops when the function posts its response. DynamoDB Local comes from a
local stack (`intake dev`) started by this script on free ports.

Usage: python3 scripts/cold_start.py [runs]   (after `cargo build --release -p sms-webhook
-p social-webhook -p email-webhook -p acknowledger -p intake-cli` and `cargo build --release
-p intake --example bare_lambda`; `make cold-start` does both)
"""

import base64
import hashlib
import hmac
import http.server
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 20
TOKEN = "cold-start-token"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def twilio_event(base_url, n):
    sid = "SM%032x" % (int(time.time() * 1e6) + n)
    form = [("MessageSid", sid), ("SmsSid", sid), ("AccountSid", "AC" + "0" * 32),
            ("From", "+628123%07d" % n), ("To", "+6221555000"), ("Body", "Halo, pesanan saya belum sampai"),
            ("NumMedia", "0"), ("NumSegments", "1"), ("SmsStatus", "received"), ("ApiVersion", "2010-04-01")]
    url = base_url + "/sms/twilio"
    data = url + "".join(k + v for k, v in sorted(form))
    signature = base64.b64encode(hmac.new(TOKEN.encode(), data.encode(), hashlib.sha1).digest()).decode()
    body = base64.b64encode(urllib.parse.urlencode(form).encode()).decode()
    return {
        "version": "2.0", "routeKey": "POST /sms/{provider}", "rawPath": "/sms/twilio", "rawQueryString": "",
        "headers": {"content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature},
        "requestContext": {"accountId": "123456789012", "apiId": "local", "domainName": "localhost",
                           "domainPrefix": "local", "requestId": "r%d" % n, "routeKey": "POST /sms/{provider}",
                           "stage": "$default", "time": "22/Nov/2026:08:00:00 +0000", "timeEpoch": 0,
                           "http": {"method": "POST", "path": "/sms/twilio", "protocol": "HTTP/1.1",
                                    "sourceIp": "127.0.0.1", "userAgent": "TwilioProxy/1.1"}},
        "body": body, "isBase64Encoded": True,
    }


FUNCTIONS = ["sms-webhook", "social-webhook", "email-webhook", "acknowledger"]
BASELINE = "examples/bare_lambda"


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    event = None
    done = threading.Event()
    response = None
    first_poll = None
    # Init only: the first /invocation/next is noted and left unanswered.
    init_only = False
    polled = threading.Event()

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.endswith("/invocation/next"):
            if RuntimeApi.done.is_set():
                return  # the function is killed after its first answer
            if RuntimeApi.first_poll is None:
                RuntimeApi.first_poll = time.perf_counter()
            if RuntimeApi.init_only:
                RuntimeApi.polled.set()
                return
            payload = json.dumps(RuntimeApi.event).encode()
            self.send_response(200)
            self.send_header("Lambda-Runtime-Aws-Request-Id", "req-1")
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
            self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:local:0:function:sms-webhook")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        self.send_response(202)
        self.end_headers()
        RuntimeApi.response = (self.path, body)
        RuntimeApi.done.set()


def dotenv_example():
    """The local stack's settings (.env.example), as a function deployed against it has."""
    settings = {}
    with open(os.path.join(ROOT, ".env.example")) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                name, value = line.split("=", 1)
                settings[name] = value
    return settings


def init_ratios(fn_env, rounds):
    """Init of every function and of the baseline, in turn, `rounds` times."""
    binaries = [BASELINE] + FUNCTIONS
    inits = {b: [] for b in binaries}
    RuntimeApi.init_only = True
    RuntimeApi.done.clear()
    try:
        for n in range(rounds):
            # A different order each round, so no binary always follows the same one.
            order = binaries[n % len(binaries):] + binaries[:n % len(binaries)]
            for binary in order:
                RuntimeApi.polled.clear()
                RuntimeApi.first_poll = None
                env = dict(fn_env, AWS_LAMBDA_FUNCTION_NAME=os.path.basename(binary))
                start = time.perf_counter()
                fn = subprocess.Popen([os.path.join(ROOT, "target/release", binary)], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                if not RuntimeApi.polled.wait(30):
                    fn.kill()
                    sys.exit("%s never asked for an invocation" % binary)
                inits[binary].append((RuntimeApi.first_poll - start) * 1000)
                fn.kill()
                fn.wait()
    finally:
        RuntimeApi.init_only = False
    base = statistics.median(inits[BASELINE])
    print("init, process start to first /invocation/next (%d rounds, every binary once a round):" % rounds)
    for binary in binaries:
        times = sorted(inits[binary])
        print("  %-22s median %5.1f ms  p90 %5.1f ms  max %5.1f ms  %.2fx the baseline" % (
            os.path.basename(binary), statistics.median(times), times[int(len(times) * 0.9) - 1],
            times[-1], statistics.median(times) / base))


def main():
    ports = {k: free_port() for k in ("INTAKE_PORT", "INTAKE_RECORDER_PORT", "DDB")}
    base = "http://127.0.0.1:%d" % ports["INTAKE_PORT"]
    env = dict(os.environ, INTAKE_PORT=str(ports["INTAKE_PORT"]), INTAKE_RECORDER_PORT=str(ports["INTAKE_RECORDER_PORT"]),
               AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:%d" % ports["DDB"], INTAKE_DATA_DIR=":memory:",
               TABLE_NAME="intake-cold-start", PUBLIC_BASE_URL=base, TWILIO_AUTH_TOKEN=TOKEN,
               TWILIO_ACCOUNT_SID="AC" + "0" * 32, AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="local",
               AWS_SECRET_ACCESS_KEY="local", RUST_LOG="warn")
    stack = subprocess.Popen([os.path.join(ROOT, "target/release/intake"), "dev"], env=env, cwd=ROOT,
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/health", timeout=1)
                break
            except Exception:
                time.sleep(0.1)
        else:
            sys.exit("the local stack did not start")
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
        server.handle_error = lambda *args: None
        threading.Thread(target=server.serve_forever, daemon=True).start()
        fn_env = dict(env, AWS_LAMBDA_RUNTIME_API="127.0.0.1:%d" % server.server_address[1],
                      AWS_LAMBDA_FUNCTION_NAME="sms-webhook", AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256",
                      AWS_LAMBDA_FUNCTION_VERSION="$LATEST", AWS_LAMBDA_LOG_STREAM_NAME="local",
                      AWS_LAMBDA_LOG_GROUP_NAME="local")
        times, inits = [], []
        for n in range(RUNS):
            RuntimeApi.event = twilio_event(base, n)
            RuntimeApi.done.clear()
            RuntimeApi.first_poll = None
            start = time.perf_counter()
            fn = subprocess.Popen([os.path.join(ROOT, "target/release/sms-webhook")], env=fn_env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if not RuntimeApi.done.wait(30):
                fn.kill()
                sys.exit("the function did not answer")
            elapsed = (time.perf_counter() - start) * 1000
            fn.kill()
            fn.wait()
            path, body = RuntimeApi.response
            status = json.loads(body).get("statusCode")
            if "/response" not in path or status != 200:
                sys.exit("unexpected answer: %s %s" % (path, body[:200]))
            times.append(elapsed)
            inits.append((RuntimeApi.first_poll - start) * 1000)
        times.sort()
        inits.sort()
        print("sms-webhook cold start to first handled request (%d runs, ingest into DynamoDB Local):" % RUNS)
        print("  median %.1f ms, p90 %.1f ms, min %.1f ms, max %.1f ms" % (
            statistics.median(times), times[int(len(times) * 0.9) - 1], times[0], times[-1]))
        print("  of which init (process start to first /invocation/next): median %.1f ms, max %.1f ms" % (
            statistics.median(inits), inits[-1]))
        print()
        local = dotenv_example()
        local.update((k, v) for k, v in env.items() if k in (
            "AWS_ENDPOINT_URL_DYNAMODB", "TABLE_NAME", "PUBLIC_BASE_URL", "TWILIO_AUTH_TOKEN", "RUST_LOG"))
        for name in ("INTAKE_PORT", "INTAKE_RECORDER_PORT", "INTAKE_DATA_DIR", "INTAKE_DEAD_LETTER_DIR"):
            local.pop(name, None)
        init_ratios(dict(fn_env, **local), RUNS)
    finally:
        stack.stdin.close()
        stack.terminate()
        stack.wait(10)


if __name__ == "__main__":
    main()
