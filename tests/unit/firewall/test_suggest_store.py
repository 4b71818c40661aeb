"""`fw suggest --data-dir`: flows observed in the store become the least-privilege rule set."""

from typer.testing import CliRunner

from hostwarden.commands.fw import app
from hostwarden.core.chunks import Chunk
from hostwarden.pipelines.ingest import ingest_chunks
from hostwarden.store.eventstore import EventStore

LINES = (
    b"Nov 28 10:00:00 h sshd[1]: Connection from 198.51.100.7 port 50000 on 10.0.0.5 port 22\n"
    b"Nov 28 10:00:01 h sshd[2]: Connection from 198.51.100.8 port 50001 on 10.0.0.5 port 22\n"
    b"Nov 28 10:00:02 h sshd[3]: Failed password for root from 203.0.113.9 port 4000 ssh2\n"
)


def test_suggest_reads_accepted_flows_from_the_store(tmp_path):
    with EventStore(tmp_path) as store:
        ingest_chunks(store, [Chunk("auth.log", 0, LINES)])
    result = CliRunner().invoke(app, ["suggest", "--data-dir", str(tmp_path), "--since", "3650d"])
    assert result.exit_code == 0, result.output
    accepts = [line for line in result.output.splitlines() if "--dport 22" in line]
    assert sorted(line.split()[3] for line in accepts) == ["198.51.100.7/32", "198.51.100.8/32"]
    assert "203.0.113.9" not in result.output  # a failed login is not traffic to keep allowing


def test_suggest_needs_some_traffic():
    result = CliRunner().invoke(app, ["suggest"])
    assert result.exit_code == 2 and "FW-3001" in result.output
