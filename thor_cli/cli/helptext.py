"""Help that teaches: real metavars in the usage line, an Examples block, and the global options in every
command's ``--help`` (they work after the command too, see ``hoist_global_options``).

Typer's plain help writes required arguments as ``{name}`` and types as ``<str>``; these classes write the
metavars given (``STEP``, ``VERSION``) instead. Summaries are set explicitly (``short_help``) so the command
list never cuts them with "...".
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

# Options of the root command that every sub-command accepts too.
GLOBAL_OPTION_NAMES = ("config", "now", "verbose", "quiet")
# Wide terminals get wide help (click stops at 80 columns by default).
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 120}


def _argument_name(param: Any) -> str:
    name = (param.metavar or param.name or "").upper()
    return name if param.required else f"[{name}]"


def _global_records(ctx: Any) -> list[tuple[str, str]]:
    root = ctx.find_root()
    if root is ctx:
        return []
    records = []
    for param in root.command.get_params(root):
        if param.name in GLOBAL_OPTION_NAMES:
            record = param.get_help_record(root)
            if record:
                records.append(record)
    return records


def _write_examples(epilog: str | None, formatter: Any) -> None:
    """The epilog is an Examples block: written line by line, never re-wrapped."""
    if not epilog:
        return
    formatter.write_paragraph()
    formatter.write_text("Examples:")
    with formatter.indentation():
        for line in inspect.cleandoc(epilog).splitlines():
            formatter.write(f"{' ' * formatter.current_indent}{line}\n")


class ThorCommand(TyperCommand):
    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        pieces.extend(_argument_name(p) for p in self.get_params(ctx) if p.param_type_name == "argument")
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        arguments = [
            (_argument_name(p).strip("[]"), p.help or "")
            for p in self.get_params(ctx)
            if p.param_type_name == "argument"
        ]
        options = [
            record
            for p in self.get_params(ctx)
            if p.param_type_name == "option" and (record := p.get_help_record(ctx)) is not None
        ]
        if arguments:
            with formatter.section("Arguments"):
                formatter.write_dl(arguments)
        if options:
            with formatter.section("Options"):
                formatter.write_dl(options)
        globals_ = _global_records(ctx)
        if globals_:
            with formatter.section("Global options (before or after the command)"):
                formatter.write_dl(globals_)

    def format_epilog(self, ctx: Any, formatter: Any) -> None:
        _write_examples(self.epilog, formatter)


class ThorGroup(TyperGroup):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A command registered with a plain `app.command()` gets the same help: metavars, global options, a
        # whole summary (its Examples block is the one thing it has to bring itself).
        for cmd in self.commands.values():
            if type(cmd) is TyperCommand:
                cmd.__class__ = ThorCommand
                if cmd.short_help is None and cmd.help:
                    cmd.short_help = inspect.cleandoc(cmd.help).splitlines()[0]

    def format_options(self, ctx: Any, formatter: Any) -> None:
        super().format_options(ctx, formatter)
        globals_ = _global_records(ctx)
        if globals_:
            with formatter.section("Global options (before or after the command)"):
                formatter.write_dl(globals_)

    def format_epilog(self, ctx: Any, formatter: Any) -> None:
        _write_examples(self.epilog, formatter)


def summary(func: Callable[..., Any]) -> str:
    """The docstring's first line: the command's one-line summary, shown whole in `thor --help`."""
    return inspect.cleandoc(func.__doc__ or "").splitlines()[0]


def command(app: typer.Typer, name: str, func: Callable[..., Any], examples: str) -> None:
    """Register ``func`` as ``thor NAME`` with its full summary and an Examples block."""
    app.command(name, cls=ThorCommand, short_help=summary(func), epilog=examples)(func)
