"""The `worldplan` Typer application: the one place where every command is registered.

The command modules (agent/cli/{serve,traces,web,web_controller,math,control}.py) define
plain functions whose keyword options carry their help texts; importing them registers
nothing.
`build_app()` names each command and registers it here, in the order `worldplan --help`
lists them. `app` is the built application: the console script (agent.cli.main) runs it,
and tests invoke it with Typer's CliRunner.
"""

from __future__ import annotations

import typer

from worldplan.agent.cli.bank import (
    bank_build_command,
    bank_embed_command,
    bank_eval_command,
    bank_merge_command,
)
from worldplan.agent.cli.control import calibrate_command, fit_policy_command
from worldplan.agent.cli.math import math_command
from worldplan.agent.cli.serve import models_command, serve_command
from worldplan.agent.cli.traces import (
    compare_command,
    migrate_command,
    replay_command,
    report_command,
    rerun_command,
    runs_command,
)
from worldplan.agent.cli.verifier import verifier_eval_command, verifier_fit_command
from worldplan.agent.cli.web import web_command
from worldplan.agent.cli.web_controller import collect_command, fit_command


def build_app() -> typer.Typer:
    """A new `worldplan` application with every command."""
    app = typer.Typer(
        name="worldplan",
        help="Compute-optimal test-time search with an LLM as world model (MATH and web "
             "tasks).",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_show_locals=False,
    )
    # local model servers and the model cache
    app.command("serve")(serve_command)
    app.command("models")(models_command)
    # the trace database
    app.command("runs")(runs_command)
    app.command("replay")(replay_command)
    app.command("report")(report_command)
    app.command("compare")(compare_command)
    app.command("rerun")(rerun_command)
    app.command("migrate")(migrate_command)
    # runs
    app.command("web")(web_command)
    app.command("math")(math_command)
    app.command("calibrate")(calibrate_command)
    app.command("fit-policy")(fit_policy_command)
    bank = typer.Typer(help="Sample banks: generate once, evaluate many.", no_args_is_help=True)
    bank.command("build")(bank_build_command)
    bank.command("embed")(bank_embed_command)
    bank.command("merge")(bank_merge_command)
    bank.command("eval")(bank_eval_command)
    app.add_typer(bank, name="bank")
    verifier = typer.Typer(help="A verifier learned from banks.", no_args_is_help=True)
    verifier.command("fit")(verifier_fit_command)
    verifier.command("eval")(verifier_eval_command)
    app.add_typer(verifier, name="verifier")
    controller = typer.Typer(help="The web agent's per-step controller, fitted from "
                             "counterfactual rollouts.", no_args_is_help=True)
    controller.command("collect")(collect_command)
    controller.command("fit")(fit_command)
    app.add_typer(controller, name="web-controller")
    return app


app = build_app()
