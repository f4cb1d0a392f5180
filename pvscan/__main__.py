from pvscan.entry import main

raise SystemExit(main())
