from supportbot.cli import main

raise SystemExit(main())
