from thor_cli.cli import main

raise SystemExit(main())
