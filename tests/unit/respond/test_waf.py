"""waf_deny: the include files get our block and lose it again leaving the previous content
byte for byte; a failing `nginx -t` reverts the change; writes are atomic."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from respond_helpers import alert, block_playbook, playbook, script

from hostwarden.respond.actions.waf import modsec_body, nginx_body, parse, render

ADDRS = ["203.0.113.5", "198.51.100.7", "2001:db8::1", "192.0.2.44"]


@settings(max_examples=200, deadline=None)
@given(base=st.one_of(st.none(), st.binary(max_size=200), st.text(max_size=200).map(str.encode)),
       ops=st.lists(st.tuples(st.booleans(), st.sampled_from(ADDRS)), max_size=12))
def test_adding_and_removing_entries_restores_the_previous_content_exactly(base, ops) -> None:  # type: ignore[no-untyped-def]
    content, active = base, set()
    for add, addr in ops:
        m = parse(content)
        assert set(m.entries) == active
        if add:
            m.entries[addr] = "never"
            active.add(addr)
        else:
            m.entries.pop(addr, None)
            active.discard(addr)
        content = render(m, nginx_body(sorted(m.entries)))
        if active:
            assert content is not None
            for a in active:
                assert f"\ndeny {a};\n".encode() in content
    m = parse(content)
    m.entries.clear()
    assert render(m, []) == base


def test_modsecurity_rule_lists_every_address() -> None:
    (line,) = modsec_body(["203.0.113.5", "2001:db8::1"], 1990001)
    assert line.startswith('SecRule REMOTE_ADDR "@ipMatch 203.0.113.5,2001:db8::1" "id:1990001,phase:1,deny')


def _waf(make_settings, tmp_path: Path, **waf):  # type: ignore[no-untyped-def]
    return make_settings(waf={"deny_file": str(tmp_path / "deny.conf"),
                              "modsecurity_file": str(tmp_path / "modsec.conf"), "test": [], "reload": [], **waf})


def test_apply_and_undo_leave_existing_and_missing_files_as_they_were(make_settings, make_responder, tmp_path) -> None:  # type: ignore[no-untyped-def]
    s = _waf(make_settings, tmp_path)
    deny = tmp_path / "deny.conf"
    deny.write_bytes(b"# site rules\ndeny 10.0.0.1;")  # no final newline
    deny.chmod(0o640)
    r = make_responder(s, [playbook(block_playbook(action="waf_deny"))])
    a = r.handle(alert("203.0.113.5"), wait=True)[0]
    b = r.handle(alert("2001:db8::1"), wait=True)[0]
    assert (a.status, b.status) == ("applied", "applied")
    text = deny.read_text()
    assert text.startswith("# site rules\ndeny 10.0.0.1;\n# >>> hostwarden")
    assert "deny 203.0.113.5;" in text and "deny 2001:db8::1;" in text
    assert deny.stat().st_mode & 0o777 == 0o640  # the replaced file keeps its mode
    assert "@ipMatch 2001:db8::1,203.0.113.5" in (tmp_path / "modsec.conf").read_text()
    r.undo(a.id)
    assert "203.0.113.5" not in deny.read_text() and "deny 2001:db8::1;" in deny.read_text()
    r.undo(b.id)
    assert deny.read_bytes() == b"# site rules\ndeny 10.0.0.1;"
    assert not (tmp_path / "modsec.conf").exists()  # it did not exist before


def test_a_failing_config_test_reverts_the_files(make_settings, make_responder, tmp_path) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "reloads"
    bad = script(tmp_path / "nginx", 'echo "nginx: [emerg] unknown directive" >&2\nexit 1\n')
    reload = script(tmp_path / "reload", f"echo reload >> {log}\n")
    s = _waf(make_settings, tmp_path, test=[str(bad), "-t"], reload=[str(reload)])
    deny = tmp_path / "deny.conf"
    deny.write_text("allow all;\n")
    r = make_responder(s, [playbook(block_playbook(action="waf_deny"))])
    (out,) = r.handle(alert(), wait=True)
    assert (out.status, out.code) == ("failed", "RESP-6013")
    assert "unknown directive" in out.message
    assert deny.read_text() == "allow all;\n" and not (tmp_path / "modsec.conf").exists()
    assert not log.exists()  # nothing reloaded


def test_a_passing_config_test_is_followed_by_a_reload(make_settings, make_responder, tmp_path) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "calls"
    ok = script(tmp_path / "nginx", f'echo "$*" >> {log}\n')
    s = _waf(make_settings, tmp_path, test=[str(ok), "-t"], reload=[str(ok), "-s", "reload"])
    r = make_responder(s, [playbook(block_playbook(action="waf_deny"))])
    (out,) = r.handle(alert(), wait=True)
    assert out.status == "applied"
    assert log.read_text().splitlines() == ["-t", "-s reload"]
