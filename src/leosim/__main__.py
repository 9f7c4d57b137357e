from leosim.cli import main

main()
