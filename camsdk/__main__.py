from camsdk.cli import main

raise SystemExit(main())
