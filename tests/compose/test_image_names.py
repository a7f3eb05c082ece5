"""The names the farm builds and runs its images under: FARM_IMAGE_TAG and FARM_BASE_IMAGE, as compose.yaml and
the Dockerfile read them."""

from __future__ import annotations

import pytest

from farm.containers.images import (
    BASE_IMAGE,
    BASE_IMAGE_VARIABLE,
    IMAGE_TAG_VARIABLE,
    base_image,
    image_name,
    split_reference,
)
from farm.errors import FarmError


@pytest.mark.parametrize(
    ("reference", "parts"),
    [
        ("debian:bookworm-slim", ("debian", "bookworm-slim")),
        ("debian", ("debian", "latest")),
        ("mirror.example:5000/library/debian", ("mirror.example:5000/library/debian", "latest")),
        ("mirror.example:5000/library/debian:12-slim", ("mirror.example:5000/library/debian", "12-slim")),
    ],
)
def test_a_reference_splits_into_repository_and_tag(reference: str, parts: tuple[str, str]) -> None:
    assert split_reference(reference) == parts


def test_the_tag_and_the_base_come_from_the_environment_when_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(IMAGE_TAG_VARIABLE, raising=False)
    monkeypatch.delenv(BASE_IMAGE_VARIABLE, raising=False)
    assert (image_name("app"), base_image()) == ("cachefarm-app:latest", BASE_IMAGE)
    monkeypatch.setenv(IMAGE_TAG_VARIABLE, "ci-1.2_x")
    monkeypatch.setenv(BASE_IMAGE_VARIABLE, "mirror.example/debian:bookworm-slim")
    assert (image_name("redis"), base_image()) == ("cachefarm-redis:ci-1.2_x", "mirror.example/debian:bookworm-slim")


def test_a_tag_docker_would_refuse_is_refused_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(IMAGE_TAG_VARIABLE, "my tag")
    with pytest.raises(FarmError, match=f"{IMAGE_TAG_VARIABLE}='my tag' is not an image tag"):
        image_name("app")
