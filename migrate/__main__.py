from offramp.migrate.cli import main

main()
