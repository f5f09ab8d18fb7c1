"""control/smtproutes: exact, .suffix longest first, default route, empty
relay (MX as usual), ports, names resolved with A only, malformed lines."""
import pytest

from conftest import good_conversation, needs_netns

UNREADABLE = b"ZUnable to read control files. (#4.3.0)\n\0"
NO_CONNECTION = b"ZSorry, I wasn't able to establish an SMTP connection. (#4.4.1)\n\0"


def servers(smtp, count):
    return [smtp(*good_conversation()) for _ in range(count)]


def which_got_it(home, smtp, routes, host, count=3):
    started = servers(smtp, count)
    home.control("smtproutes", routes(*started))
    out = home.run(host, "a@b.test", "u@" + host)
    for server in started:
        server.close()
    return [server.connections for server in started], out


def test_exact_then_longest_suffix_then_default(home, smtp):
    routes = lambda a, b, c: (f"a.b.example.test:127.0.0.1:{a.port}\n"
                              f".b.example.test:127.0.0.1:{b.port}\n"
                              f".example.test:127.0.0.1:{c.port}\n")
    assert which_got_it(home, smtp, routes, "a.b.example.test")[0] == [1, 0, 0]
    assert which_got_it(home, smtp, routes, "z.b.example.test")[0] == [0, 1, 0]
    assert which_got_it(home, smtp, routes, "q.example.test")[0] == [0, 0, 1]


def test_suffix_key_does_not_match_the_bare_domain(home, smtp):
    routes = lambda a, b: f".example.test:127.0.0.1:{a.port}\n:127.0.0.1:{b.port}\n"
    assert which_got_it(home, smtp, routes, "example.test", 2)[0] == [0, 1]


def test_match_is_case_insensitive(home, smtp):
    routes = lambda a: f".Example.TEST:127.0.0.1:{a.port}\n"
    assert which_got_it(home, smtp, routes, "MX.EXAMPLE.test", 1)[0] == [1]


def test_comments_and_blank_lines_are_ignored(home, smtp):
    routes = lambda a: f"# a comment: with colons\n\n   \nx.test:127.0.0.1:{a.port}\n"
    assert which_got_it(home, smtp, routes, "x.test", 1)[0] == [1]


def test_later_line_for_same_key_wins(home, smtp):
    routes = lambda a, b: f"x.test:127.0.0.1:{a.port}\nx.test:127.0.0.1:{b.port}\n"
    assert which_got_it(home, smtp, routes, "x.test", 2)[0] == [0, 1]


def test_bracketed_relay_and_port_with_trailing_junk(home, smtp):
    routes = lambda a: f"x.test:[127.0.0.1]:{a.port}xyz\n"
    counts, out = which_got_it(home, smtp, routes, "x.test", 1)
    assert counts == [1] and out.startswith(b"r\0K127.0.0.1 accepted")


def test_empty_port_means_port_zero_which_cannot_connect(home):
    home.control("smtproutes", "x.test:127.0.0.1:\n")
    assert home.run("x.test", "a@b.test", "u@x.test") == NO_CONNECTION


def test_local_address_is_allowed_through_a_route(home, smtp):
    counts, out = which_got_it(home, smtp, lambda a: f"x.test:127.0.0.1:{a.port}\n", "x.test", 1)
    assert out == b"r\0K127.0.0.1 accepted message.\nRemote host said: 250 ok\n\0"


@pytest.mark.parametrize("line", ["no colon here", "x.test:bad relay!:25", "x.test:127.0.0.1:70000"])
def test_malformed_route_line_keeps_mail_waiting(home, line):
    home.control("smtproutes", "good.test:127.0.0.1:25\n" + line + "\n")
    assert home.run("x.test", "a@b.test", "u@x.test") == UNREADABLE
    assert b"smtproutes: line 2" in home.stderr


def test_relay_name_is_resolved_with_a_records_only(home, smtp, dns):
    server = smtp(*good_conversation())
    zone = dns({"relay.test": {"A": ["127.0.0.1"], "MX": [(10, "elsewhere.test")]}})
    home.control("smtproutes", f"x.test:relay.test:{server.port}\n")
    out = home.run("x.test", "a@b.test", "u@x.test")
    server.wait()
    assert out.startswith(b"r\0K127.0.0.1 accepted")
    assert ("relay.test", "A") in zone.questions and ("relay.test", "MX") not in zone.questions
    assert not any(name == "x.test" for name, _ in zone.questions)


def test_relay_name_that_does_not_exist(home, dns):
    dns({})
    home.control("smtproutes", "x.test:gone.test\n")
    assert home.run("x.test", "a@b.test", "u@x.test") == b"DSorry, I couldn't find any host named gone.test. (#5.1.2)\n\0"


@needs_netns
def test_empty_relay_means_mx_and_beats_default_route(home, smtp, dns):
    mx = smtp(*good_conversation(), host="127.0.0.2", port=25)
    default = smtp(*good_conversation())
    dns({"x.test": {"MX": [(10, "mx.x.test")]}, "mx.x.test": {"A": ["127.0.0.2"]}})
    home.control("smtproutes", f"x.test:\n:127.0.0.1:{default.port}\n")
    out = home.run("x.test", "a@b.test", "u@x.test")
    mx.wait()
    default.close()
    assert out == b"r\0K127.0.0.2 accepted message.\nRemote host said: 250 ok\n\0"
    assert default.connections == 0
