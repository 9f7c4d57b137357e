from leosim._entry import main

main()
