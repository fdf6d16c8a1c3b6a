from boda.cli import main

main()
