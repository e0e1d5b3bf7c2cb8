"""What the radio benches share: a free loopback port and the station's API."""
import json, os, socket, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def status(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=5) as r:
        return json.load(r)


def post(port, body):
    """POSTs `body` to /api/settings; the wall time it was sent and the answer."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/settings", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    t = time.time()
    with urllib.request.urlopen(req, timeout=5) as r:
        return t, json.load(r)


def wait_playing(port, seconds=60):
    """Waits until the station on `port` plays a track (False if it never does)."""
    for _ in range(int(seconds * 10)):
        try:
            if status(port)["now_playing"]:
                return True
        except OSError:
            pass
        time.sleep(0.1)
    return False
