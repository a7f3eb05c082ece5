"""A replica's name (``--name-from-replica``) from what each engine tells a container about itself: podman's
/etc/hosts (its DNS answers no reverse lookup before aardvark-dns 1.5), Docker's reverse DNS (its /etc/hosts holds
only the container id). The hosts files below are the ones each engine wrote on this project's machine."""

from __future__ import annotations

import socket
from pathlib import Path
from types import SimpleNamespace

import dns.resolver
import pytest

from nodes import replica
from nodes.replica import ReplicaNameError, hosts_names, replica_name, replica_number

PODMAN_HOSTS = """127.0.0.1\tlocalhost
127.0.0.1\tvm
10.89.0.1\thost.containers.internal
10.89.0.6\t5e4d4ba51883 cachefarm-c182a97424_node_2
"""
DOCKER_HOSTS = """127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
172.21.0.5\t0d263f365912
"""


@pytest.mark.parametrize(
    ("name", "number"),
    [
        ("cachefarm-c182a97424_node_2", 2),  # Compose v1
        ("cachefarm-c182a97424-node-12", 12),  # Compose v2
        ("proj-node-3.proj_default", 3),  # Docker's reverse DNS, with the network
        ("farm_node_1.", 1),
        ("node", None),  # the service alias aardvark-dns 1.5+ also answers with
        ("0d263f365912", None),  # the container id: the hostname
        ("proj_source_1", None),  # another service's replica
        ("proj_mynode_1", None),
    ],
)
def test_the_replica_number_is_the_last_part_after_the_service(name: str, number: int | None) -> None:
    assert replica_number(name, "node") == number


def test_the_hosts_file_gives_the_names_of_one_address() -> None:
    assert hosts_names("10.89.0.6", PODMAN_HOSTS) == ["5e4d4ba51883", "cachefarm-c182a97424_node_2"]
    assert hosts_names("10.89.0.7", PODMAN_HOSTS) == []
    assert hosts_names("10.89.0.6", "# 10.89.0.6 commented_node_1\n") == []


class Container:
    """This process as a container: its address, its hosts file, and what the engine's DNS answers (None: no
    answer); records the addresses the DNS was asked about."""

    def __init__(self, hosts_file: Path) -> None:
        self.hosts_file = hosts_file
        self.address = ""
        self.ptr: list[str] | None = None
        self.asked: list[str] = []

    def be(self, address: str, hosts: str, ptr: list[str] | None = None) -> None:
        self.address, self.ptr = address, ptr
        self.hosts_file.write_text(hosts)

    def resolve_address(self, address: str, lifetime: float) -> list[object]:
        self.asked.append(address)
        if self.ptr is None:
            raise dns.resolver.NoAnswer
        return [SimpleNamespace(target=target) for target in self.ptr]


@pytest.fixture
def container(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Container:
    faked = Container(tmp_path / "hosts")
    monkeypatch.setattr(socket, "gethostbyname", lambda host: faked.address)
    monkeypatch.setattr(dns.resolver, "resolve_address", faked.resolve_address)
    monkeypatch.setattr(replica, "HOSTS_FILE", faked.hosts_file)
    return faked


def test_podman_names_the_replica_in_its_hosts_file_without_asking_dns(container: Container) -> None:
    container.be("10.89.0.6", PODMAN_HOSTS)
    assert replica_name() == "node-2"
    assert container.asked == []


def test_docker_names_the_replica_in_its_reverse_dns(container: Container) -> None:
    container.be("172.21.0.5", DOCKER_HOSTS, ["cachefarm-c182a97424_node_3.cachefarm-c182a97424_default."])
    assert replica_name() == "node-3"
    assert container.asked == ["172.21.0.5"]


def test_a_reverse_dns_with_aliases_and_the_id_still_finds_the_replica(container: Container) -> None:
    container.be("172.21.0.5", DOCKER_HOSTS, ["node.", "0d263f365912.", "proj-node-4."])
    assert replica_name() == "node-4"


def test_neither_naming_the_container_says_what_each_answered(container: Container) -> None:
    container.be("172.21.0.5", DOCKER_HOSTS)
    with pytest.raises(ReplicaNameError) as raised:
        replica_name()
    message = str(raised.value)
    assert "172.21.0.5" in message
    assert "['0d263f365912']" in message
    assert "give --name" in message
