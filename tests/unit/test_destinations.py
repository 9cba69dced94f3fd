import ipaddress
import socket

import pytest

from app.core.destinations import DestinationRefused, Destinations, parse_allow_nets, refusal
from app.core.settings import ConfigError


def resolver_to(*addresses):
    def resolve(host, port):
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses
        ]

    return resolve


@pytest.mark.parametrize(
    "address, kind",
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("100.64.0.1", "non-public"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "link-local"),
    ],
)
def test_refusal_names_the_kind_of_address(address, kind):
    assert refusal(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "1.1.1.1"])
def test_public_addresses_are_no_refusal(address):
    assert refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "file:///etc/passwd", "gopher://x/", "example.com/hook", "http:///path"]
)
def test_only_http_and_https_urls_with_a_host(url):
    with pytest.raises(DestinationRefused):
        Destinations(resolver=resolver_to("93.184.215.14")).check_url(url)


def test_metadata_address_is_refused_naming_it():
    with pytest.raises(DestinationRefused, match="169.254.169.254, a link-local address"):
        Destinations().check_url("http://169.254.169.254/latest/meta-data")


@pytest.mark.parametrize("host", ["2130706433", "0177.0.0.1", "0x7f.1", "[::ffff:7f00:1]", "localhost"])
def test_other_spellings_of_loopback_are_refused(host):
    with pytest.raises(DestinationRefused, match="loopback"):
        Destinations().check_url(f"http://{host}:8080/")


def test_a_name_is_refused_when_any_of_its_addresses_is():
    d = Destinations(resolver=resolver_to("93.184.215.14", "10.0.0.7"))
    with pytest.raises(DestinationRefused, match="hooks.example resolves to 10.0.0.7, a private address"):
        d.check_url("https://hooks.example/x")


def test_a_name_with_public_addresses_passes():
    Destinations(resolver=resolver_to("93.184.215.14")).check_url("https://hooks.example/x")


def test_a_name_that_does_not_resolve_is_refused():
    def fail(host, port):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(DestinationRefused, match="does not resolve"):
        Destinations(resolver=fail).check_url("https://nowhere.invalid/")


def test_allowed_nets_open_chosen_ranges_only():
    d = Destinations(parse_allow_nets("127.0.0.0/8, 10.20.0.0/16"))
    d.check_url("http://127.0.0.1:9000/hook")
    d.check_address(ipaddress.ip_address("10.20.3.4"))
    d.check_address(ipaddress.ip_address("::ffff:127.0.0.1"))
    with pytest.raises(DestinationRefused):
        d.check_address(ipaddress.ip_address("10.21.0.1"))
    with pytest.raises(DestinationRefused):
        d.check_address(ipaddress.ip_address("::1"))


def test_a_bad_allow_net_names_the_setting():
    with pytest.raises(ConfigError, match="JOBGATE_WEBHOOK_ALLOW_NETS: '10.0.0.0/33'"):
        parse_allow_nets("10.0.0.0/33")
