"""Every subcommand explains itself: a description in its own --help, and `serve` names each variable
a service stops without — checked against what the settings really refuse to start without."""

from __future__ import annotations

import argparse
import re

import pytest

from postsched import cli
from postsched.errors import ConfigError


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_each_subcommand_has_a_description(name: str) -> None:
    text = subcommands()[name].format_help()
    description = subcommands()[name].description or ""
    assert len(description) > 20 and description[:30] in text


@pytest.mark.parametrize("service", sorted(cli.SERVICES))
def test_serve_names_every_variable_a_service_cannot_start_without(service: str) -> None:
    settings = cli._settings_class(cli.SERVICES[service][1])
    env = {"POSTSCHED_DATABASE_URL": "postgresql://x@127.0.0.1/x", "POSTSCHED_NATS_URL": "nats://127.0.0.1:4222",
           "POSTSCHED_API_TOKENS": "acme:" + "t" * 40, "POSTSCHED_ADMIN_TOKEN": "o" * 40,
           "POSTSCHED_SECRET_KEY": "A" * 43 + "="}
    settings.from_env(env)  # all of them: it starts
    listed = dict(re.findall(r"^  (POSTSCHED_\w+)\s+(.+)$", cli.SERVE_VARIABLES, re.M))
    for variable in env:
        try:
            settings.from_env({k: v for k, v in env.items() if k != variable})
        except ConfigError as exc:
            assert variable in str(exc)
            assert variable in listed and ("every service" in listed[variable] or service in listed[variable]), variable
        else:
            assert service not in listed.get(variable, ""), f"{variable} is listed for {service}, which starts without it"
