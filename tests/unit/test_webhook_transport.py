import http.server
import socket
import threading

import pytest
import requests

from app.core.destinations import DestinationRefused, Destinations, parse_allow_nets
from workers.webhook_transport import READ_CAP, post, session

LOOPBACK = parse_allow_nets("127.0.0.0/8")


class Receiver(http.server.BaseHTTPRequestHandler):
    hits: list = []
    answer_bytes = 0
    redirect_to = ""

    def do_POST(self):
        self.hits.append(self.rfile.read(int(self.headers["Content-Length"])))
        if self.redirect_to:
            self.send_response(302)
            self.send_header("Location", self.redirect_to)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(self.answer_bytes))
        self.end_headers()
        try:
            chunk = b"x" * 65536
            left = self.answer_bytes
            while left > 0:
                self.wfile.write(chunk[: min(left, len(chunk))])
                left -= len(chunk)
        except OSError:
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    Receiver.hits, Receiver.answer_bytes, Receiver.redirect_to = [], 0, ""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


def send(destinations, url):
    return post(session(destinations), url, b'{"id": "j"}', {"Content-Type": "application/json"}, (2, 5))


def test_an_allowed_destination_gets_the_post(receiver):
    assert send(Destinations(LOOPBACK), receiver) == 200
    assert Receiver.hits == [b'{"id": "j"}']


def test_a_refused_destination_gets_no_connection(receiver):
    with pytest.raises(DestinationRefused, match="loopback"):
        send(Destinations(), receiver)
    assert Receiver.hits == []


def test_a_name_that_resolves_elsewhere_at_delivery_is_refused(receiver):
    port = int(receiver.rsplit(":", 1)[1].split("/")[0])
    answers = iter([[("93.184.215.14", port)], [("127.0.0.1", port)]])

    def rebinding(host, p):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", addr) for addr in next(answers)]

    d = Destinations(resolver=rebinding)
    d.check_url(f"http://rebind.example:{port}/hook")  # at submission: public
    with pytest.raises(DestinationRefused, match="rebind.example resolves to 127.0.0.1"):
        send(d, f"http://rebind.example:{port}/hook")
    assert Receiver.hits == []


def test_the_address_actually_connected_to_is_checked(receiver, monkeypatch):
    monkeypatch.setattr(socket.socket, "getpeername", lambda self: ("10.0.0.5", 80))
    with pytest.raises(DestinationRefused, match="10.0.0.5, a private address"):
        send(Destinations(LOOPBACK), receiver)
    assert Receiver.hits == []


def test_redirects_are_not_followed(receiver):
    Receiver.redirect_to = "http://169.254.169.254/latest/meta-data"
    assert send(Destinations(LOOPBACK), receiver) == 302
    assert len(Receiver.hits) == 1


def test_at_most_the_read_cap_of_an_answer_is_read(receiver, monkeypatch):
    Receiver.answer_bytes = 50 * 1024 * 1024
    read = []
    original = requests.packages.urllib3.response.HTTPResponse.read

    def counting(self, amt=None, *a, **k):
        data = original(self, amt, *a, **k)
        read.append(len(data))
        return data

    monkeypatch.setattr(requests.packages.urllib3.response.HTTPResponse, "read", counting)
    assert send(Destinations(LOOPBACK), receiver) == 200
    assert sum(read) <= READ_CAP


def test_proxy_variables_are_ignored(receiver, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://10.0.0.1:3128")
    monkeypatch.setenv("http_proxy", "http://10.0.0.1:3128")
    assert send(Destinations(LOOPBACK), receiver) == 200
