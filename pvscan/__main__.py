from pvscan.cli import main

raise SystemExit(main())
