from thor_cli.cli import run

run()
