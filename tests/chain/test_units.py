"""The chain client's decisions and files, without a chain: error decoding and classification,
backoff, batching, the on-disk queue, key files, configuration, and the artifact check."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import requests
from eth_abi import encode
from eth_account import Account
from eth_utils import keccak
from web3.exceptions import ContractCustomError, TimeExhausted, Web3RPCError

from swarmd import config as cfg
from swarmd.chain import artifact, errors, keys, preflight
from swarmd.chain.queue import Submission, SubmissionQueue, backoff_delay, batch_due
from swarmd.chain.reconcile import ranges
from swarmd.chain.redact import redact_url, scrub, secrets_of

REPO = Path(__file__).resolve().parents[2]
PEER = "12D3KooWAbcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUV"


def _selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


# -- custom errors ------------------------------------------------------------------------------


def test_custom_errors_decode_by_name_with_arguments() -> None:
    data = _selector("RoundTooOld(uint256,uint256,uint256)") + encode(["uint256"] * 3, [3, 1010, 1000])
    decoded = errors.contract_decoder().decode("0x" + data.hex())
    assert decoded.name == "RoundTooOld"
    assert dict(decoded.args) == {"roundNumber": 3, "currentRound": 1010, "window": 1000}
    assert str(decoded) == "RoundTooOld(roundNumber=3, currentRound=1010, window=1000)"


def test_addresses_and_strings_decode_readably() -> None:
    owner = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    data = _selector("PeerIdAlreadyRegistered(string,address)") + encode(["string", "address"], [PEER, owner])
    decoded = errors.contract_decoder().decode(data)
    assert decoded.arg("owner") == owner  # checksummed
    assert str(decoded) == f"PeerIdAlreadyRegistered(peerId='{PEER}', owner={owner})"


@pytest.mark.parametrize(
    ("data", "name"),
    [
        ("0x" + _selector("WinnerAlreadyVoted(uint256,string)").hex(), "WinnerAlreadyVoted"),  # selector only
        ({"data": "0x" + _selector("OnlyOwner(address)").hex()}, "OnlyOwner"),  # a node's dict
        ("0x" + _selector("Error(string)").hex() + encode(["string"], ["boom"]).hex(), "Error"),
        ("0x" + _selector("Panic(uint256)").hex() + encode(["uint256"], [0x11]).hex(), "Panic"),
        ("0xdeadbeef", "unknown error 0xdeadbeef"),
        ("0x", "execution reverted (no reason given)"),
        (None, "execution reverted (no reason given)"),
        ("not hex", "execution reverted (no reason given)"),
    ],
)
def test_other_revert_shapes(data, name) -> None:
    assert errors.contract_decoder().decode(data).name == name


def test_every_abi_error_has_a_selector() -> None:
    assert errors.contract_decoder().names == {e["name"] for e in artifact.load().abi if e["type"] == "error"}


def test_classification_of_failures() -> None:
    d = errors.contract_decoder()
    data = "0x" + (_selector("InvalidRoundNumber(uint256,uint256)") + encode(["uint256", "uint256"], [9, 2])).hex()
    reverted = errors.classify(ContractCustomError(data, data=data), d, "submitReward")
    assert isinstance(reverted, errors.Reverted)
    assert str(reverted) == "submitReward reverted: InvalidRoundNumber(roundNumber=9, currentRound=2)"
    assert isinstance(errors.classify(requests.ConnectionError("refused"), d, "x"), errors.ChainUnavailable)
    assert isinstance(errors.classify(requests.Timeout("slow"), d, "x"), errors.ChainUnavailable)
    assert isinstance(errors.classify(TimeExhausted("no receipt"), d, "x"), errors.TransientChainError)
    for message in ("nonce too low", "replacement transaction underpriced", "something new"):
        err = errors.classify(Web3RPCError(str({"code": -32000, "message": message})), d, "x")
        assert type(err) is errors.TransientChainError
        assert message in str(err)
    unfunded = errors.classify(
        Web3RPCError("{'code': -32003, 'message': 'Insufficient funds for gas * price + value'}"), d, "x"
    )
    assert isinstance(unfunded, errors.Unfunded)
    # The control plane maps ChainUnavailable to UNAVAILABLE.
    assert errors.ChainUnavailable.code == "UNAVAILABLE"


# -- decisions ------------------------------------------------------------------------------------


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [backoff_delay(n, 1.0, 30.0) for n in range(0, 8)] == [0, 1, 2, 4, 8, 16, 30, 30]
    assert backoff_delay(10_000, 0.5, 60.0) == 60.0


def test_batching_every_n_rounds() -> None:
    assert not batch_due(set(), 10, 1)
    assert batch_due({4}, 4, 1)
    assert not batch_due({4, 5}, 5, 3)  # two rounds of three
    assert batch_due({4, 5, 6}, 6, 3)
    assert batch_due({4, 5}, 7, 3)  # the oldest is three rounds behind: flush
    assert not batch_due({4, 5}, None, 3)  # round unknown yet: hold


# -- the queue ------------------------------------------------------------------------------------


def test_queue_persists_and_dedups(tmp_path: Path) -> None:
    q = SubmissionQueue(tmp_path / "queue")
    r = Submission("reward", 3, 1, PEER, reward=-7)
    w = Submission("winners", 3, 0, PEER, winners=(PEER, "12D3KooWOther"))
    assert q.add(r) and q.add(w)
    assert not q.add(Submission("reward", 3, 1, PEER, reward=99))  # same key: not queued again
    q.update(r, tx_hash="0xabc", attempts=1)
    again = SubmissionQueue(tmp_path / "queue")  # a restart
    assert [s.key for s in again.pending()] == [r.key, w.key]
    assert again.pending()[0].tx_hash == "0xabc" and again.pending()[0].reward == -7
    assert again.pending()[1].winners == (PEER, "12D3KooWOther")
    again.confirm(again.pending()[0], block=12, block_hash="0x01")
    again.fail(again.pending()[0], "InvalidVote(index=1, winner='')")
    third = SubmissionQueue(tmp_path / "queue")
    assert third.pending() == []
    assert [s.failed_reason for s in third.failed()] == ["InvalidVote(index=1, winner='')"]
    assert not third.add(w)  # a failed key stays known: it is not retried by re-queueing
    # A confirmed record stays (and stays known) until final; reopened it is pending again.
    assert [(s.key, s.block) for s in third.confirmed()] == [(r.key, 12)]
    assert not third.add(r)
    third.reopen(third.confirmed()[0], "lost in a rollback")
    fourth = SubmissionQueue(tmp_path / "queue")
    assert [(s.key, s.block, s.last_error) for s in fourth.pending()] == [(r.key, 0, "lost in a rollback")]
    fourth.confirm(fourth.pending()[0], block=20)
    fourth.finalize(fourth.confirmed()[0])
    assert SubmissionQueue(tmp_path / "queue").confirmed() == []
    assert sorted(p.name for p in (tmp_path / "queue").iterdir()) == ["confirmed", "failed"]


def test_confirmed_and_pending_copies_of_one_record_keep_the_confirmed(tmp_path: Path) -> None:
    # A crash between writing the confirmed record and removing the pending one.
    q = SubmissionQueue(tmp_path)
    r = Submission("reward", 1, 0, PEER, reward=5)
    q.add(r)
    (tmp_path / "confirmed" / r.file_name).write_text(replace(r, block=3).to_json())
    again = SubmissionQueue(tmp_path)
    assert again.pending() == [] and [s.block for s in again.confirmed()] == [3]
    assert not (tmp_path / r.file_name).exists()


def test_record_ranges_cover_rounds_in_calls_of_at_most_256() -> None:
    assert ranges([]) == []
    assert ranges([5, 3, 4, 3]) == [(3, 3)]
    assert ranges([0, 255, 256, 600]) == [(0, 256), (256, 1), (600, 1)]


def test_rpc_urls_lose_their_credentials() -> None:
    url = "https://alice:s3cr3t-pass@eth.example.com:8443/v2/AbCdEf0123456789xyzKEY?apikey=tok-123456&x=1"
    shown = redact_url(url)
    assert shown == "https://***@eth.example.com:8443/v2/***?apikey=***&x=***"
    for secret in ("alice:s3cr3t-pass", "s3cr3t-pass", "AbCdEf0123456789xyzKEY", "tok-123456"):
        assert secret in secrets_of(url)
        assert secret not in shown
    assert redact_url("http://127.0.0.1:8545") == "http://127.0.0.1:8545"
    assert redact_url("https://mainnet.infura.io/v3/0123456789abcdef0123456789abcdef") == "https://mainnet.infura.io/v3/***"
    assert redact_url("https://rpc.example.org/") == "https://rpc.example.org/"
    text = "HTTPSConnectionPool(host='eth.example.com'): /v2/AbCdEf0123456789xyzKEY?apikey=tok-123456"
    assert scrub(text, secrets_of(url)) == "HTTPSConnectionPool(host='eth.example.com'): /v2/***?apikey=***"


def test_queue_order_is_oldest_round_first_rewards_before_votes(tmp_path: Path) -> None:
    q = SubmissionQueue(tmp_path)
    for sub in (
        Submission("winners", 2, 0, PEER, winners=(PEER,)),
        Submission("reward", 2, 1, PEER),
        Submission("reward", 10, 0, PEER),
        Submission("reward", 2, 0, PEER),
    ):
        q.add(sub)
    assert [s.key.rsplit("-", 1)[0] for s in q.pending()] == ["reward-2-0", "reward-2-1", "winners-2-0", "reward-10-0"]


def test_queue_sets_aside_unreadable_files_and_interrupted_writes(tmp_path: Path) -> None:
    qdir = tmp_path / "queue"
    SubmissionQueue(qdir).add(Submission("reward", 1, 0, PEER, reward=5))
    (qdir / f"reward-2-0-{PEER}.json").write_text("{not json")
    (qdir / f"reward-3-0-{PEER}.json").write_text(Submission("reward", 4, 0, PEER).to_json())  # name ≠ key
    (qdir / ".reward-5-0-x.json.tmp").write_text("half")
    q = SubmissionQueue(qdir)
    assert [s.round for s in q.pending()] == [1]
    assert sorted(p.name for p in (qdir / "corrupt").iterdir()) == [f"reward-2-0-{PEER}.json", f"reward-3-0-{PEER}.json"]
    assert not list(qdir.glob(".*.tmp"))


def test_queue_refuses_keys_that_are_not_peer_ids(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="base58"):
        SubmissionQueue(tmp_path).add(Submission("reward", 1, 0, "../../etc/passwd"))


# -- key files ------------------------------------------------------------------------------------


def _key_file(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_hex_key_files(tmp_path: Path) -> None:
    acct = Account.create()
    key_hex = bytes(acct.key).hex()
    for text in (key_hex, "0x" + key_hex + "\n"):
        assert keys.load_key_file(_key_file(tmp_path / "k", text)).address == acct.address
    keys.write_key_file(tmp_path / "new.key", bytes(acct.key))
    assert (tmp_path / "new.key").stat().st_mode & 0o777 == 0o600
    assert keys.load_key_file(tmp_path / "new.key").address == acct.address


@pytest.mark.parametrize(
    ("text", "mode", "message"),
    [
        (None, 0o600, "does not exist"),
        ("ab" * 32, 0o644, "readable by group or others (mode 0644); run: chmod 600"),
        ("ab" * 32, 0o640, "readable by group or others"),
        ("ab" * 31, 0o600, "must hold one private key as 64 hex digits"),
        ("zz" * 32, 0o600, "must hold one private key as 64 hex digits"),
    ],
)
def test_bad_key_files_are_named_and_never_quoted(tmp_path: Path, text, mode, message) -> None:
    path = tmp_path / "chain.key"
    if text is not None:
        _key_file(path, text, mode)
    with pytest.raises(keys.KeyFileError) as info:
        keys.load_key_file(path)
    assert str(path) in str(info.value) and message in str(info.value)
    if text:
        assert text not in str(info.value)


def test_zero_is_not_a_private_key(tmp_path: Path) -> None:
    with pytest.raises(keys.KeyFileError, match="valid secp256k1"):
        keys.load_key_file(_key_file(tmp_path / "k", "00" * 32))


def test_keystore_with_password_file(tmp_path: Path) -> None:
    acct = Account.create()
    keystore = _key_file(tmp_path / "ks.json", json.dumps(Account.encrypt(acct.key, "s3cret", iterations=2)))
    password = _key_file(tmp_path / "pw", "s3cret\n")
    assert keys.load_keystore(keystore, password).address == acct.address
    _key_file(password, "wrong")
    with pytest.raises(keys.KeyFileError, match=f"cannot decrypt keystore file {keystore}"):
        keys.load_keystore(keystore, password)
    password.chmod(0o604)
    with pytest.raises(keys.KeyFileError, match=f"password file {password} is readable by group or others"):
        keys.check_keystore(keystore, password)
    _key_file(password, "s3cret")
    _key_file(keystore, "[]")
    with pytest.raises(keys.KeyFileError, match="is not an Ethereum keystore"):
        keys.check_keystore(keystore, password)


# -- configuration --------------------------------------------------------------------------------


def _load(tmp_path: Path, **chain) -> cfg.Config:
    return cfg.load(environ={}, cli={"node.data_dir": str(tmp_path), **{f"chain.{k}": v for k, v in chain.items()}})


def test_chain_is_opt_in() -> None:
    assert cfg.load(environ={}).chain.enabled is False


@pytest.mark.parametrize(
    ("chain", "message"),
    [
        ({"enabled": True}, "chain.enabled needs chain.contract or chain.deployments_file"),
        ({"contract": "0x1234"}, "must be a 0x-prefixed 20-byte hex address"),
        ({"contract": "0x" + "1" * 40, "deployments_file": "d.json"}, "not both"),
        ({"keystore_file": "ks.json"}, "chain.keystore_file needs chain.password_file"),
        ({"rpc_url": "localhost:8545"}, "http:// or https://"),
        ({"submit_every_n_rounds": 0}, "chain.submit_every_n_rounds"),
        ({"retry_initial_s": 60, "retry_max_s": 5}, "must not exceed"),
    ],
)
def test_config_errors_name_the_key(tmp_path: Path, chain, message) -> None:
    with pytest.raises(cfg.ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        _load(tmp_path, **chain)


def test_deployments_file_supplies_url_chain_and_address(tmp_path: Path) -> None:
    dep = tmp_path / "local.json"
    dep.write_text(json.dumps({"rpc_url": "http://127.0.0.1:9999", "chain_id": 31337, "address": "0x" + "ab" * 20}))
    ep = preflight.resolve(_load(tmp_path, enabled=True, deployments_file=str(dep)))
    assert (ep.rpc_url, ep.chain_id, ep.contract) == ("http://127.0.0.1:9999", 31337, "0x" + "ab" * 20)
    assert ep.key_file == tmp_path / "chain.key"
    # Keys set in the config win over the file.
    ep = preflight.resolve(_load(tmp_path, enabled=True, deployments_file=str(dep), rpc_url="http://127.0.0.2:1", chain_id=5))
    assert (ep.rpc_url, ep.chain_id) == ("http://127.0.0.2:1", 5)


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "does not exist (run 'make chain'"), ("{", "is not valid JSON"), ('{"address": "0x12"}', "no valid 'address'")],
)
def test_bad_deployments_files_are_named(tmp_path: Path, content, message) -> None:
    dep = tmp_path / "local.json"
    if content is not None:
        dep.write_text(content)
    with pytest.raises(cfg.ConfigError, match=f"chain.deployments_file {dep}.*{message.replace('(', '.')}"):
        preflight.check(_load(tmp_path, enabled=True, deployments_file=str(dep)))


def test_preflight_names_the_key_file(tmp_path: Path) -> None:
    conf = _load(tmp_path, enabled=True, contract="0x" + "12" * 20)
    with pytest.raises(cfg.ConfigError, match=f"chain: key file {tmp_path / 'chain.key'} does not exist"):
        preflight.check(conf)
    _key_file(tmp_path / "chain.key", "11" * 32, 0o644)
    with pytest.raises(cfg.ConfigError, match="readable by group or others"):
        preflight.check(conf)
    (tmp_path / "chain.key").chmod(0o600)
    preflight.check(conf)
    preflight.check(_load(tmp_path))  # disabled: nothing to check


# -- the committed artifact ------------------------------------------------------------------------


@pytest.mark.process
@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node (make install brings solc-js)")
def test_artifact_matches_the_source() -> None:
    """What `make contracts-check` runs: recompile with the pinned solc-js and compare bytes."""
    if not (REPO / "node_modules" / "solc").exists():
        pytest.skip("solc-js not installed (make install runs npm ci --ignore-scripts)")
    result = subprocess.run(
        ["node", "contracts/compile.mjs", "--check"], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert "is up to date" in result.stdout


@pytest.mark.process
@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node")
def test_artifact_check_reports_drift(tmp_path: Path) -> None:
    if not (REPO / "node_modules" / "solc").exists():
        pytest.skip("solc-js not installed")
    stale = tmp_path / "SwarmCoordinator.json"
    stale.write_text(artifact.ARTIFACT_PATH.read_text().replace('"cancun"', '"shanghai"'))
    result = subprocess.run(
        ["node", "contracts/compile.mjs", "--check", "--out", str(stale)], cwd=REPO, capture_output=True, text=True,
        timeout=300,
    )
    assert result.returncode == 1
    assert "run 'make contracts' and commit the artifact" in result.stderr


def test_artifact_pins_compiler_and_evm() -> None:
    data = json.loads(artifact.ARTIFACT_PATH.read_text())
    assert data["compiler"]["version"].startswith("0.8.37+")
    assert data["settings"]["evmVersion"] == "cancun"
    assert data["settings"]["optimizer"] == {"enabled": True, "runs": 200}
    assert data["bytecode"].startswith("0x") and len(data["deployedBytecode"]) // 2 < 24576  # EIP-170
    assert os.path.basename(data["sourceName"]) == "SwarmCoordinator.sol"


def test_not_reached_yet_is_only_a_future_round_or_stage() -> None:
    from swarmd.chain.errors import DecodedRevert, not_reached_yet

    ahead = DecodedRevert("InvalidRoundNumber", (("roundNumber", 5), ("currentRound", 3)))
    assert not_reached_yet(ahead)
    assert not not_reached_yet(DecodedRevert("RoundTooOld", (("roundNumber", 1), ("currentRound", 3000), ("window", 10))))
    stage = DecodedRevert("InvalidStageNumber", (("roundNumber", 3), ("stageNumber", 2), ("currentRound", 3), ("currentStage", 1)))
    assert not_reached_yet(stage)
    past = DecodedRevert("InvalidStageNumber", (("roundNumber", 2), ("stageNumber", 7), ("currentRound", 3), ("currentStage", 0)))
    assert not not_reached_yet(past)  # a stage beyond stageCount in a past round never becomes valid
